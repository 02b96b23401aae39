// Renders BENCHMARKS.md and bench/chart.svg again from bench/results.json, without measuring anything:
// for a change to the report's wording. `npm run bench` measures and renders.

import { readFile, writeFile } from "node:fs/promises";
import * as prettier from "prettier";
import { renderChart, renderMarkdown, type Results } from "./report.js";

const results = JSON.parse(await readFile("bench/results.json", "utf8")) as Results;
const options = (await prettier.resolveConfig("BENCHMARKS.md")) ?? {};
await writeFile(
  "BENCHMARKS.md",
  await prettier.format(renderMarkdown(results), { ...options, filepath: "BENCHMARKS.md" }),
);
await writeFile("bench/chart.svg", renderChart(results));
