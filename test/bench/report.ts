/**
 * What a run prints and keeps: one table, the ratios against the anchors (which hold on a noisy
 * machine where absolute figures do not), the issue's targets with PASS/FAIL, a JSON record and an
 * SVG chart of throughput and p50/p99 per scenario.
 */
import type { LoadResult } from "./load.js";
import type { ScenarioId } from "./scenario-ids.js";
import type { Target } from "./scenarios.js";
import { TARGET_CONNECTIONS } from "./options.js";

/** Issue 6's targets. */
const TARGET_VERIFY_RETURNING_PER_S = 1_000;
const TARGET_ADDED_P99_MS = 10;
const TARGET_ME_SHARE_OF_APOLLO = 0.7;
const TARGET_SIZE_P50_RATIO = 1.1;
const TARGET_SIZE_SMALL = 1_000;
const TARGET_SIZE_LARGE = 1_000_000;
const KB_PER_MB = 1024;

export interface ScenarioResult extends LoadResult {
  readonly id: ScenarioId;
  /** `id`, or `id@users` for the runs at further sizes. */
  readonly label: string;
  readonly title: string;
  readonly target: Target;
  readonly unit: "request" | "pair";
  /** Users stored when it ran (seeded, before the logins of the run). */
  readonly users: number;
  readonly connections: number;
  /** Peak RSS of the process under load (the gateway; for the anchors, the anchor itself) during warm-up and run. */
  readonly peakRssMb: number | undefined;
  /**
   * CPU the process under load spent per successful unit during the measured run (all its threads), in ms: steadier
   * than throughput on a machine whose other tenants come and go.
   */
  readonly cpuMsPerUnit: number | undefined;
  /** Peak RSS of the gateway in the same window (for the anchors: the idle gateway beside them). */
  readonly gatewayPeakRssMb: number | undefined;
  /** Background code refills and dry-pool misses during the measured run (0 and 0 when pre-minting sufficed). */
  readonly codeRefills: number;
  readonly codeMisses: number;
  /** Lines the gateway logged (LOG_LEVEL=warn: warnings and errors) during warm-up and run. */
  readonly gatewayLogLines: number;
  /** Their messages (pino's `msg`) and how often each came, from the last 200 lines. */
  readonly gatewayLogMessages: Readonly<Record<string, number>>;
  /** The first few of those lines as logged (the gateway never logs secrets), for the JSON record. */
  readonly gatewayLogSample: readonly string[];
}

/** pino's JSON lines reduced to `msg` → count; other lines count as themselves. */
export function summarizeLog(lines: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of lines) {
    let message = line;
    try {
      const entry = JSON.parse(line) as { msg?: unknown };
      if (typeof entry.msg === "string") message = entry.msg;
    } catch {
      // Not pino's: keep the line.
    }
    counts[message] = (counts[message] ?? 0) + 1;
  }
  return counts;
}

export type Verdict = "PASS" | "FAIL" | "N/A";

export interface TargetCheck {
  readonly target: string;
  readonly verdict: Verdict;
  readonly measured: string;
}

export interface Ratio {
  readonly name: string;
  readonly value: string;
}

export function kbToMb(kb: number | undefined): number | undefined {
  return kb === undefined ? undefined : kb / KB_PER_MB;
}

/** The scenario's first run (at the first size). */
function first(results: readonly ScenarioResult[], id: ScenarioId): ScenarioResult | undefined {
  return results.find((result) => result.id === id);
}

function addedLatency(verify: ScenarioResult, pair: ScenarioResult): { p50: number; p99: number } {
  return { p50: verify.p50Ms - pair.p50Ms, p99: verify.p99Ms - pair.p99Ms };
}

/** Gateway figures against the anchors of the same run. */
export function ratios(results: readonly ScenarioResult[]): Ratio[] {
  const out: Ratio[] = [];
  const pair = first(results, "emulator-pair");
  const apollo = first(results, "apollo");
  for (const result of results) {
    if (pair && result.id.startsWith("verify-")) {
      const added = addedLatency(result, pair);
      out.push({
        name: `${result.label} − emulator pair (gateway-added latency)`,
        value: `p50 ${ms(added.p50)} ms, p99 ${ms(added.p99)} ms; throughput ${percent(result.okPerSecond / pair.okPerSecond)} of pairs/s`,
      });
    }
  }
  for (const id of ["me", "refresh"] as const) {
    const result = first(results, id);
    if (result && apollo) out.push({ name: `${id} req/s as share of bare Apollo req/s`, value: percent(result.okPerSecond / apollo.okPerSecond) });
  }
  return out;
}

/** The issue's targets that this run measured. */
export function targetChecks(results: readonly ScenarioResult[], connections: number): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const returning = first(results, "verify-returning");
  const pair = first(results, "emulator-pair");
  const apollo = first(results, "apollo");
  const me = first(results, "me");
  const atTargetConnections = connections === TARGET_CONNECTIONS;
  if (returning) {
    checks.push({
      target: `verify (returning user) ≥ ${TARGET_VERIFY_RETURNING_PER_S.toLocaleString("en")} req/s, no errors`,
      verdict: returning.okPerSecond >= TARGET_VERIFY_RETURNING_PER_S && returning.errors === 0 ? "PASS" : "FAIL",
      measured: `${rate(returning.okPerSecond)} req/s, ${returning.errors} errors (${connections} connections)`,
    });
  }
  if (returning && pair) {
    const added = addedLatency(returning, pair);
    checks.push({
      target: `gateway-added p99 (verify returning − emulator pair) ≤ ${TARGET_ADDED_P99_MS} ms at ${TARGET_CONNECTIONS} connections`,
      verdict: !atTargetConnections ? "N/A" : added.p99 <= TARGET_ADDED_P99_MS ? "PASS" : "FAIL",
      measured: `${ms(added.p99)} ms (${ms(returning.p99Ms)} − ${ms(pair.p99Ms)})${atTargetConnections ? "" : `, at ${connections} connections`}`,
    });
  }
  if (me && apollo) {
    const share = me.okPerSecond / apollo.okPerSecond;
    checks.push({
      target: `me ≥ ${percent(TARGET_ME_SHARE_OF_APOLLO)} of bare Apollo req/s`,
      verdict: share >= TARGET_ME_SHARE_OF_APOLLO && me.errors === 0 ? "PASS" : "FAIL",
      measured: `${percent(share)} (${rate(me.okPerSecond)} / ${rate(apollo.okPerSecond)} req/s), ${me.errors} errors`,
    });
  }
  const sized = results.filter((result) => result.id === "verify-returning");
  if (sized.length > 1) {
    const small = sized[0]!;
    const large = sized[sized.length - 1]!;
    const ratio = large.p50Ms / small.p50Ms;
    const asStated = small.users <= TARGET_SIZE_SMALL && large.users >= TARGET_SIZE_LARGE;
    checks.push({
      target: `verify p50 with ${TARGET_SIZE_LARGE.toLocaleString("en")} users ≤ ${TARGET_SIZE_P50_RATIO}× with ${TARGET_SIZE_SMALL.toLocaleString("en")}`,
      verdict: !asStated ? "N/A" : ratio <= TARGET_SIZE_P50_RATIO ? "PASS" : "FAIL",
      measured: `${ratio.toFixed(2)}× (${ms(large.p50Ms)} ms at ${large.users.toLocaleString("en")} users, ${ms(small.p50Ms)} ms at ${small.users.toLocaleString("en")})`,
    });
  }
  return checks;
}

/** The table, ratios and targets as printed. */
export function formatReport(results: readonly ScenarioResult[], ratioList: readonly Ratio[], checks: readonly TargetCheck[]): string {
  const header = ["scenario", "users", "ok/s", "p50 ms", "p99 ms", "errors", "CPU ms/unit", "peak RSS MB"];
  const rows = results.map((result) => [
    result.label,
    result.users.toLocaleString("en"),
    `${rate(result.okPerSecond)}${result.unit === "pair" ? " pairs" : ""}`,
    ms(result.p50Ms),
    ms(result.p99Ms),
    String(result.errors),
    result.cpuMsPerUnit === undefined ? "?" : result.cpuMsPerUnit.toFixed(2),
    `${result.peakRssMb === undefined ? "?" : result.peakRssMb.toFixed(0)}${result.target === "gateway" ? "" : ` (${result.target})`}`,
  ]);
  const lines = [table(header, rows)];
  const failures = results.filter((result) => Object.keys(result.reasons).length > 0);
  if (failures.length > 0) {
    lines.push("", "errors:");
    for (const result of failures) {
      lines.push(`  ${result.label}: ${Object.entries(result.reasons).map(([reason, count]) => `${reason} ×${count}`).join(", ")}`);
    }
  }
  const noisy = results.filter((result) => result.codeRefills > 0 || result.codeMisses > 0 || result.gatewayLogLines > 0);
  if (noisy.length > 0) {
    lines.push("", "notes:");
    for (const result of noisy) {
      const parts = [];
      if (result.codeRefills > 0) parts.push(`${result.codeRefills} background code refills during the run (minting slowed the emulator a little)`);
      if (result.codeMisses > 0) parts.push(`the code pool ran dry ${result.codeMisses} times`);
      if (result.gatewayLogLines > 0) {
        const messages = Object.entries(result.gatewayLogMessages).map(([message, count]) => `"${message}" ×${count}`).join(", ");
        parts.push(`the gateway logged ${result.gatewayLogLines} warning/error lines: ${messages}`);
      }
      lines.push(`  ${result.label}: ${parts.join("; ")}`);
    }
  }
  if (ratioList.length > 0) {
    lines.push("", "against the anchors:");
    for (const ratio of ratioList) lines.push(`  ${ratio.name}: ${ratio.value}`);
  }
  if (checks.length > 0) {
    lines.push("", "targets (issue 6):");
    for (const check of checks) lines.push(`  [${check.verdict}] ${check.target}: ${check.measured}`);
  }
  return lines.join("\n");
}

export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  // Text left, figures right.
  const cell = (text: string, column: number) => (column === 0 ? text.padEnd(widths[column]!) : text.padStart(widths[column]!));
  return [header, widths.map((width) => "-".repeat(width)), ...rows].map((row) => row.map(cell).join("  ")).join("\n");
}

export function ms(value: number): string {
  return Number.isFinite(value) ? value.toFixed(2) : "–";
}

export function rate(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString("en") : "–";
}

export function percent(value: number): string {
  return Number.isFinite(value) ? `${(value * 100).toFixed(0)} %` : "–";
}

const SVG_WIDTH = 960;
const LABEL_WIDTH = 250;
const VALUE_WIDTH = 90;
const ROW_HEIGHT = 22;
const PANEL_GAP = 40;
const TITLE_HEIGHT = 28;
const COLOURS = { throughput: "#4e79a7", p50: "#59a14f", p99: "#e15759" } as const;

/** A hand-made SVG: ok/s per scenario, then p50 and p99 per scenario, as horizontal bars. */
export function chartSvg(results: readonly ScenarioResult[], caption: string): string {
  const barWidth = SVG_WIDTH - LABEL_WIDTH - VALUE_WIDTH - 20;
  const parts: string[] = [];
  let y = 10;
  parts.push(text(10, y + 14, caption, 14, "bold"));
  y += TITLE_HEIGHT;

  parts.push(text(10, y + 14, "Throughput (successful requests/s; pairs/s for the emulator pair)", 13, "bold"));
  y += TITLE_HEIGHT;
  const maxRate = Math.max(1, ...results.map((result) => finite(result.okPerSecond)));
  for (const result of results) {
    const width = (finite(result.okPerSecond) / maxRate) * barWidth;
    parts.push(text(LABEL_WIDTH - 8, y + 15, result.label, 12, "normal", "end"));
    parts.push(rect(LABEL_WIDTH, y + 3, width, ROW_HEIGHT - 6, COLOURS.throughput));
    parts.push(text(LABEL_WIDTH + width + 6, y + 15, rate(result.okPerSecond), 12));
    y += ROW_HEIGHT;
  }
  y += PANEL_GAP;

  parts.push(text(10, y + 14, "Latency (ms) of successful requests/pairs", 13, "bold"));
  parts.push(rect(LABEL_WIDTH + 300, y + 4, 12, 12, COLOURS.p50), text(LABEL_WIDTH + 318, y + 14, "p50", 12));
  parts.push(rect(LABEL_WIDTH + 360, y + 4, 12, 12, COLOURS.p99), text(LABEL_WIDTH + 378, y + 14, "p99", 12));
  y += TITLE_HEIGHT;
  const maxLatency = Math.max(1, ...results.map((result) => finite(result.p99Ms)));
  for (const result of results) {
    parts.push(text(LABEL_WIDTH - 8, y + 20, result.label, 12, "normal", "end"));
    for (const [key, value] of [["p50", result.p50Ms], ["p99", result.p99Ms]] as const) {
      const width = (finite(value) / maxLatency) * barWidth;
      parts.push(rect(LABEL_WIDTH, y + 2, width, ROW_HEIGHT / 2 + 2, COLOURS[key]));
      parts.push(text(LABEL_WIDTH + width + 6, y + 13, ms(value), 11));
      y += ROW_HEIGHT / 2 + 4;
    }
    y += 6;
  }
  const height = y + 10;
  return svgDocument(height, parts);
}

/** A line chart of RSS samples (the soak). */
export function rssSvg(samples: ReadonlyArray<{ atMs: number; rssKb: number }>, caption: string, marks: ReadonlyArray<{ atMs: number; label: string }>): string {
  const height = 360;
  const left = 70;
  const right = 20;
  const top = 40;
  const bottom = 40;
  const plotWidth = SVG_WIDTH - left - right;
  const plotHeight = height - top - bottom;
  const maxMs = Math.max(1, ...samples.map((sample) => sample.atMs));
  const maxMb = Math.max(1, ...samples.map((sample) => sample.rssKb / KB_PER_MB)) * 1.1;
  const x = (atMs: number) => left + (atMs / maxMs) * plotWidth;
  const y = (mb: number) => top + plotHeight - (mb / maxMb) * plotHeight;
  const points = samples.map((sample) => `${x(sample.atMs).toFixed(1)},${y(sample.rssKb / KB_PER_MB).toFixed(1)}`).join(" ");
  const parts = [
    text(10, 22, caption, 14, "bold"),
    `<line x1="${left}" y1="${top + plotHeight}" x2="${left + plotWidth}" y2="${top + plotHeight}" stroke="#888"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotHeight}" stroke="#888"/>`,
    text(left - 6, top + 10, `${maxMb.toFixed(0)} MB`, 11, "normal", "end"),
    text(left - 6, top + plotHeight, "0", 11, "normal", "end"),
    text(left + plotWidth, top + plotHeight + 16, `${(maxMs / 60_000).toFixed(1)} min`, 11, "normal", "end"),
    `<polyline fill="none" stroke="${COLOURS.throughput}" stroke-width="1.5" points="${points}"/>`,
    ...marks.map(
      (mark) =>
        `<line x1="${x(mark.atMs).toFixed(1)}" y1="${top}" x2="${x(mark.atMs).toFixed(1)}" y2="${top + plotHeight}" stroke="${COLOURS.p99}" stroke-dasharray="4 3"/>` +
        text(x(mark.atMs) + 4, top + 12, mark.label, 11),
    ),
  ];
  return svgDocument(height, parts);
}

function finite(value: number): number {
  return Number.isFinite(value) ? value : 0;
}

function rect(x: number, y: number, width: number, height: number, fill: string): string {
  return `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(0, width).toFixed(1)}" height="${height.toFixed(1)}" fill="${fill}"/>`;
}

function text(x: number, y: number, content: string, size: number, weight = "normal", anchor = "start"): string {
  const escaped = content.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-size="${size}" font-weight="${weight}" text-anchor="${anchor}">${escaped}</text>`;
}

/** A white SVG page of the charts' width holding `parts`. */
function svgDocument(height: number, parts: readonly string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${SVG_WIDTH}" height="${height}" viewBox="0 0 ${SVG_WIDTH} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}
