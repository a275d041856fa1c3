import { initBackend, formatBackendReport, type BackendChoice } from '@peftjs/runtime';

/** Starts the backend the user asked for (--backend, else PEFTJS_BACKEND, else the best present). */
export async function startBackend(choice: string | undefined, env: Readonly<Record<string, string | undefined>>, log?: (line: string) => void): Promise<string> {
  const report = await initBackend({ ...(choice !== undefined ? { backend: choice as BackendChoice } : {}), env });
  log?.(formatBackendReport(report));
  return report.backend;
}
