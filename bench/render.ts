// Renders BENCHMARKS.md and bench/chart.svg again from bench/results.json (and bench/fleet-results.json, if
// there is one), without measuring anything:
// for a change to the report's wording. `npm run bench` measures and renders.

import { readFile, writeFile } from "node:fs/promises";
import * as prettier from "prettier";
import { renderChart, renderMarkdown, type FleetResults, type Results } from "./report.js";

const results = JSON.parse(await readFile("bench/results.json", "utf8")) as Results;
const fleet = await readFile("bench/fleet-results.json", "utf8").then(
  (text) => JSON.parse(text) as FleetResults,
  () => undefined,
);
const options = (await prettier.resolveConfig("BENCHMARKS.md")) ?? {};
await writeFile(
  "BENCHMARKS.md",
  await prettier.format(renderMarkdown(results, fleet), { ...options, filepath: "BENCHMARKS.md" }),
);
await writeFile("bench/chart.svg", renderChart(results));
