import { readFileSync } from "node:fs";

/*
 * The code blocks of the README and docs/, as a reader sees them, for test/node/docs.test.ts. A block is a
 * fenced block (```lang … ```) at the start of a line; the HTML comments on the lines just before it (blank
 * lines between them allowed) are its markers:
 *
 *   <!-- quick-start <set-up>: <file> -->   a quick start's file (also built and run by install.test.ts)
 *   <!-- illustrative -->                   not checked (output, a format, a sketch); say why in the text
 *   <!-- check: node -->                    a TypeScript block for Node: checked with Node's types
 *   <!-- prettier-ignore -->                for prettier only
 *
 * A TypeScript or JavaScript block whose first line is a comment naming a path (`// src/my-store.ts`) is that
 * file of its page's example project: the page's other blocks may import it.
 */

export interface DocBlock {
  /** The Markdown file, relative to the repository (`README.md`, `docs/stores.md`). */
  page: string;
  /** The line of the opening fence (1-based). */
  line: number;
  /** The fence's language, lower-cased ("" for none). */
  lang: string;
  text: string;
  markers: string[];
}

const FENCE = /^(\s*)(`{3,})\s*([\w.+-]*)[^\n`]*$/;
const COMMENT = /^\s*<!--\s*([\s\S]*?)\s*-->\s*$/;

/** Every fenced block of a Markdown text, with its markers. An unclosed fence throws, naming its line. */
export function docBlocks(page: string, markdown: string): DocBlock[] {
  const lines = markdown.split("\n");
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (open === null) continue;
    const [, indent, ticks, lang] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j]!;
      if (line.trim().startsWith(ticks!) && line.trim().replace(/`/g, "") === "") break;
      body.push(line.startsWith(indent!) ? line.slice(indent!.length) : line);
    }
    if (j === lines.length) throw new Error(`${page}:${i + 1}: a code block is not closed`);
    blocks.push({
      page,
      line: i + 1,
      lang: lang!.toLowerCase(),
      text: `${body.join("\n")}\n`,
      markers: markersBefore(lines, i),
    });
    i = j;
  }
  return blocks;
}

export function readDocBlocks(page: string, root = "."): DocBlock[] {
  return docBlocks(page, readFileSync(`${root}/${page}`, "utf8"));
}

function markersBefore(lines: string[], fence: number): string[] {
  const markers: string[] = [];
  for (let k = fence - 1; k >= 0; k--) {
    const line = lines[k]!;
    if (line.trim() === "") continue;
    const comment = COMMENT.exec(line);
    if (comment === null) break;
    markers.unshift(comment[1]!);
  }
  return markers;
}

/** The quick-start marker's set-up and file, if the block has one. */
export function quickStartOf(block: DocBlock): { setUp: string; file: string } | undefined {
  for (const marker of block.markers) {
    const match = /^quick-start ([\w-]+): (\S+)$/.exec(marker);
    if (match !== null) return { setUp: match[1]!, file: match[2]! };
  }
  return undefined;
}

export function isIllustrative(block: DocBlock): boolean {
  return block.markers.some((marker) => /^illustrative\b/.test(marker));
}

/** The path a TypeScript or JavaScript block's first line names (`// src/my-store.ts: …`), if any. */
export function namedPath(block: DocBlock): string | undefined {
  const match = /^\/\/ ((?:[\w.-]+\/)*[\w-]+(?:\.[\w-]+)*\.(?:ts|mts|js|mjs|cjs))\b/.exec(block.text);
  return match?.[1];
}

/**
 * GitHub's anchor of a heading: lower case, punctuation dropped (but `-` and `_`), spaces as `-`; a
 * repeated heading gets `-1`, `-2`…
 */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutCode(markdown).split("\n")) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading === null) continue;
    const text = heading[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1");
    const slug = text
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, "")
      .replace(/ /g, "-");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** The relative links and images of a Markdown text (code blocks and code spans left out), with their lines. */
export function relativeLinksOf(markdown: string): Array<{ target: string; line: number }> {
  const links: Array<{ target: string; line: number }> = [];
  for (const [n, line] of withoutCode(markdown).split("\n").entries()) {
    for (const [, target] of line.replace(/`[^`]*`/g, "").matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      if (!/^[a-z][a-z0-9+.-]*:/i.test(target!)) links.push({ target: target!, line: n + 1 });
    }
  }
  return links;
}

/** The text with every fenced block's lines blanked (line numbers kept). */
function withoutCode(markdown: string): string {
  let inside: string | undefined;
  return markdown
    .split("\n")
    .map((line) => {
      const fence = /^\s*(`{3,})/.exec(line);
      if (inside === undefined && fence !== null) {
        inside = fence[1];
        return "";
      }
      if (inside !== undefined) {
        if (line.trim().startsWith(inside) && line.trim().replace(/`/g, "") === "") inside = undefined;
        return "";
      }
      return line;
    })
    .join("\n");
}

/** The rows (cells, trimmed) of each Markdown table whose header's first cell is `header`. */
export function tableRows(markdown: string, header: string): string[][] {
  const rows: string[][] = [];
  let inTable = false;
  for (const line of withoutCode(markdown).split("\n")) {
    if (!line.trim().startsWith("|")) {
      inTable = false;
      continue;
    }
    // Cells split at pipes that are not escaped (`\|` stands in a cell, in code too).
    const cells = line
      .trim()
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim());
    if (!inTable && cells[0] === header) inTable = true;
    else if (inTable && !/^-+$/.test(cells[0]!)) rows.push(cells);
  }
  return rows;
}

/** The first column's code spans of each Markdown table whose header's first cell is `header`. */
export function tableColumn(markdown: string, header: string): string[] {
  return tableRows(markdown, header).flatMap(([first]) => [...first!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
}
