/**
 * The end-of-run summary of a library release: what was published, what the registry already had,
 * what failed and why. Text for people, one JSON document with --json.
 */
export type OutcomeStatus = 'published' | 'already-there' | 'failed' | 'would-publish';

export interface Outcome {
  /** `demo-tools 1.2.3` or a file name. */
  item: string;
  status: OutcomeStatus;
  detail?: string;
}

export interface Summary {
  what: 'crates' | 'pypi';
  release: string;
  dryRun: boolean;
  outcomes: Outcome[];
}

const LABEL: Record<OutcomeStatus, string> = {
  published: 'published',
  'already-there': 'already there',
  failed: 'FAILED',
  'would-publish': 'would publish',
};

export function counts(s: Summary): Record<OutcomeStatus, number> {
  const c: Record<OutcomeStatus, number> = { published: 0, 'already-there': 0, failed: 0, 'would-publish': 0 };
  for (const o of s.outcomes) c[o.status]++;
  return c;
}

export function failed(s: Summary): Outcome[] {
  return s.outcomes.filter((o) => o.status === 'failed');
}

export function renderSummary(s: Summary): string[] {
  const c = counts(s);
  const head = s.dryRun
    ? `${s.what} ${s.release} (dry run): ${c['would-publish']} would be published, ${c['already-there']} already there, ${c.failed} failed`
    : `${s.what} ${s.release}: ${c.published} published, ${c['already-there']} already there, ${c.failed} failed`;
  const width = Math.max(...s.outcomes.map((o) => LABEL[o.status].length), 0);
  return [head, ...s.outcomes.map((o) => `  ${LABEL[o.status].padEnd(width)}  ${o.item}${o.detail ? `  (${o.detail})` : ''}`)];
}

export function summaryJson(s: Summary): string {
  const c = counts(s);
  return JSON.stringify({
    what: s.what,
    release: s.release,
    dryRun: s.dryRun,
    published: c.published,
    alreadyThere: c['already-there'],
    failed: c.failed,
    wouldPublish: c['would-publish'],
    outcomes: s.outcomes,
  });
}
