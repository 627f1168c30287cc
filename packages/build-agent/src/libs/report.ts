/** How a library command ends: the summary on stdout, and exit 1 naming what failed. */
import { maskSecrets, PkgfleetError } from '@pkgfleet/shared';
import { failed, renderSummary, summaryJson, type Summary } from './summary';

export function finish(summary: Summary, o: { json: boolean; stdout: (line: string) => void; secrets: readonly string[] }): void {
  const lines = o.json ? [summaryJson(summary)] : renderSummary(summary);
  for (const line of lines) o.stdout(maskSecrets(line, o.secrets));
  const bad = failed(summary);
  if (bad.length) {
    const what = summary.what === 'crates' ? 'crates' : 'files';
    throw new PkgfleetError(
      summary.what === 'crates' ? 'E_CRATES_FAILED' : 'E_PYPI_FAILED',
      `${bad.length} of ${summary.outcomes.length} ${what} failed: ${bad.map((b) => `${b.item} (${b.detail ?? 'failed'})`).join('; ')}`,
      'fix the cause and re-run the same command: what is already there is skipped',
    );
  }
}
