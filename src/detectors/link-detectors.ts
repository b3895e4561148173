/** The link-scope detectors (reader thread), in report order. */
import { l2UnknownUnicastFlood } from './l2-unknown-unicast-flood.js';
import type { Detector } from './types.js';

export const LINK_DETECTORS: readonly Detector[] = [l2UnknownUnicastFlood];
