import { createAptFormat } from './apt/format';
import type { RepoFormat } from './format';
import { createYumFormat } from './yum/format';

/**
 * The formats `repo publish` knows, fresh for one publish. To add one (yum), implement
 * RepoFormat (format.ts) and replace its line here.
 */
export function repoFormats(): RepoFormat[] {
  return [createAptFormat() as RepoFormat, createYumFormat() as RepoFormat];
}
