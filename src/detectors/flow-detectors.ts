/** The flow-scope detectors (flow shards), in report order. */
import { tcpConflictingResponses } from './tcp-conflicting-responses.js';
import { tcpSynRecvBuildup } from './tcp-syn-recv-buildup.js';
import { ctTablePressure } from './ct-table-pressure.js';
import { ctInvalid } from './ct-invalid.js';
import { flowOneWay } from './flow-one-way.js';
import type { Detector } from './types.js';

export const FLOW_DETECTORS: readonly Detector[] = [tcpConflictingResponses, tcpSynRecvBuildup, ctTablePressure, ctInvalid, flowOneWay];
