/** The link-scope detectors (reader thread), in report order. */
import { arpChangedMacDetector } from './arp-changed-mac.js';
import { arpDuplicateIpDetector } from './arp-duplicate-ip.js';
import { arpFlipFlopDetector } from './arp-flip-flop.js';
import { arpGratuitousDetector } from './arp-gratuitous.js';
import { arpStormDetector } from './arp-storm.js';
import { captureQualityDetector } from './capture-quality.js';
import { icmpSmurfDetector } from './icmp-smurf.js';
import { invalidEtherTypeDetector } from './invalid-ethertype.js';
import { ipMultipleMacsDetector } from './ip-multiple-macs.js';
import { l2UnknownUnicastFlood } from './l2-unknown-unicast-flood.js';
import { nflogRuleDetector } from './nflog-rule.js';
import { stpDetector } from './stp.js';
import { tcpBadFlagsDetector } from './tcp-bad-flags.js';
import type { Detector } from './types.js';
import { unknownEtherTypeDetector } from './unknown-ethertype.js';

export const LINK_DETECTORS: readonly Detector[] = [
  l2UnknownUnicastFlood,
  unknownEtherTypeDetector,
  invalidEtherTypeDetector,
  stpDetector,
  arpDuplicateIpDetector,
  arpChangedMacDetector,
  arpFlipFlopDetector,
  arpGratuitousDetector,
  arpStormDetector,
  ipMultipleMacsDetector,
  tcpBadFlagsDetector,
  icmpSmurfDetector,
  nflogRuleDetector,
  captureQualityDetector,
];
