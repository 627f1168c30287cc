import type { BuildOptions, Metafile } from 'esbuild';

export declare const ROOT: string;
export declare const AGENTS: readonly ['build-agent', 'orchestrator-agent', 'repo-agent'];
export declare function bundleOptions(agent: string, outfile: string): BuildOptions;
export declare function bundleAgent(agent: string, outfile: string, options?: { write?: boolean; metafile?: boolean }): Promise<{ code: string; metafile: Metafile | undefined }>;
export declare function eagerModuleInits(code: string, file?: string): string;
export declare function bundleAgentSync(agent: string, outfile: string): void;
export interface BarrelExport {
  /** absolute path of shared's file without extension, or a package name */
  from: string;
  name: string;
  typeOnly: boolean;
}
export declare function sharedBarrelMap(source?: string): Map<string, BarrelExport>;
export declare function rewriteSharedImports(source: string, map: Map<string, BarrelExport>, file?: string): string;
