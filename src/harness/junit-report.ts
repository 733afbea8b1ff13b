import type { RunResult } from './run-result.js';

/** XML 1.0 forbids most control characters, which evidence copied from a server could contain. */
function isXmlChar(c: string): boolean {
  const code = c.charCodeAt(0);
  return code >= 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

const ENTITIES: Record<string, string> = {
  '<': '&lt;',
  '>': '&gt;',
  '&': '&amp;',
  '"': '&quot;',
  "'": '&apos;',
};

function escapeXml(s: string): string {
  let out = '';
  for (const c of s) if (isXmlChar(c)) out += ENTITIES[c] ?? c;
  return out;
}

/** JUnit XML for CI systems: one testsuite per scenario, one testcase per invariant and per threshold. */
export function renderJunit(results: readonly RunResult[]): string {
  const suites = results.map((r) => {
    const cases: string[] = [];
    let failures = 0;
    let skipped = 0;
    const seconds = (r.durationMs / 1000).toFixed(3);
    for (const v of r.verdicts) {
      let body = '';
      if (!v.passed) {
        failures++;
        body = `<failure message="${escapeXml(v.summary)}">${escapeXml(v.evidence.join('\n'))}</failure>`;
      }
      cases.push(
        `    <testcase classname="${escapeXml(r.scenario)}.invariants" name="${escapeXml(v.name)}">${body}</testcase>`,
      );
    }
    for (const t of r.thresholds) {
      let body = '';
      if (t.status === 'fail') {
        failures++;
        body = `<failure message="${escapeXml(`observed ${t.observed}, limit ${t.limit}`)}"/>`;
      } else if (t.status === 'skipped' || t.status === 'cannot-judge') {
        skipped++;
        const why = t.status === 'cannot-judge' ? `cannot judge: ${t.note}` : (t.note ?? 'not measurable');
        body = `<skipped message="${escapeXml(why)}"/>`;
      }
      cases.push(
        `    <testcase classname="${escapeXml(r.scenario)}.thresholds" name="${escapeXml(t.threshold)}">${body}</testcase>`,
      );
    }
    const props = `    <properties><property name="seed" value="${r.seed}"/><property name="target" value="${escapeXml(r.target)}"/></properties>`;
    return [
      `  <testsuite name="${escapeXml(r.scenario)}" tests="${cases.length}" failures="${failures}" skipped="${skipped}" time="${seconds}">`,
      props,
      ...cases,
      '  </testsuite>',
    ].join('\n');
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="ledgerctl">\n${suites.join('\n')}\n</testsuites>\n`;
}
