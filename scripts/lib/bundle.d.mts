import type { BuildOptions } from 'esbuild';

export declare const ROOT: string;
export declare const AGENTS: readonly ['build-agent', 'orchestrator-agent', 'repo-agent'];
export declare function bundleOptions(agent: string, outfile: string): BuildOptions;
