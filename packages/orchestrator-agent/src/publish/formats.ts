import { createAptFormat } from './apt/format';
import { notBuiltYet, type RepoFormat } from './format';

/**
 * The formats `repo publish` knows, fresh for one publish. To add one (yum), implement
 * RepoFormat (format.ts) and replace its line here.
 */
export function repoFormats(): RepoFormat[] {
  return [createAptFormat() as RepoFormat, notBuiltYet('yum', 'rpm', ['.rpm'], 'rpm')];
}
