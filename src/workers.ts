import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Absolute path of a worker module's compiled JavaScript. Piscina workers on Node 20 need
 * compiled code: when this module runs from TypeScript sources (tests), point into dist/.
 */
export function workerFile(relativeJs: string): string {
  const here = fileURLToPath(import.meta.url);
  const dir = path.dirname(here);
  if (here.endsWith('.ts')) return path.resolve(dir, '..', 'dist', 'src', relativeJs);
  return path.resolve(dir, relativeJs);
}
