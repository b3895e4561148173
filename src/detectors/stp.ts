/**
 * l2.stp: what the spanning-tree BPDUs (802.1D STP, 802.1w RSTP, 802.1s MSTP's CIST, Cisco
 * PVST+) say about each broadcast domain: the root bridge, the bridges that send BPDUs, the
 * BPDU rate, topology changes (TC flag, TCN BPDUs) and root changes. One finding per VLAN
 * (untagged BPDUs form their own tree). Context by default (info); raised when the topology
 * changed (low) or more than one root was announced (medium).
 */
import { Oui } from '../decode/llc.js';
import { Layer, type Frame } from '../decode/frame.js';
import { BpduFlag, BpduType } from '../decode/stp.js';
import { formatMac } from '../report/format.js';
import type { Finding, Severity } from '../report/types.js';
import { EvidenceSample, makeFinding, type EvidenceItem } from './finding.js';
import { formatBridgeId, frameItem, GapStats, mergeEvidence, plural, roundTo, skipItem, Span, vlanScope, wouldKeep } from './link-util.js';
import { FrameClass, type Detector, type LinkDetector, type OptionValues } from './types.js';

export const ID = 'l2.stp';

const OPT_TC_LOW = 'stp-tc-low';

/** Protocol bits of a tree. */
const Proto = { STP: 1, RSTP: 2, MSTP: 4, PVST: 8 } as const;

interface BpduItem extends EvidenceItem {
  type: number;
  version: number;
  flags: number;
  rootPrio: number;
  rootMac: number;
  bridgePrio: number;
  bridgeMac: number;
  port: number;
  cost: number;
  /** For a root change: the root before. */
  prevRootPrio?: number;
  prevRootMac?: number;
}

interface Root {
  prio: number;
  mac: number;
  bpdus: number;
  span: Span;
}

interface Bridge {
  src: number;
  /** Bridge id and ports from its configuration/RST BPDUs (the last seen). */
  prio: number;
  mac: number;
  ports: number[];
  bpdus: number;
  tcn: number;
  tcFlag: number;
  /** Topology-change episodes this bridge started signalling. */
  tcEvents: number;
  inTc: boolean;
  /** Time of its last TC-signalling BPDU. */
  lastTcSec: number;
  lastTcNs: number;
  gaps: GapStats;
  helloTime: number;
  maxAge: number;
  forwardDelay: number;
  rootPathCost: number;
}

interface Tree {
  vlan: number;
  /**
   * The VLAN of a Cisco PVST+ instance (from the root's extended system id), or -1 for IEEE
   * BPDUs. PVST+ runs one tree per VLAN and sends them all on the native VLAN: each is its own
   * tree with its own root, not a second root of the untagged one.
   */
  pvstVlan: number;
  protocols: number;
  span: Span;
  config: number;
  rst: number;
  tcn: number;
  tcFlag: number;
  tcEvents: number;
  tcSpan: Span;
  roots: Root[];
  cur: Root | null;
  rootChanges: number;
  bridges: Map<number, Bridge>;
  sample: EvidenceSample;
  changeSample: EvidenceSample;
  tcSample: EvidenceSample;
}

interface Partial {
  trees: Tree[];
}

function bpduItem(f: Frame, what: string): BpduItem {
  const it = frameItem(f, what) as BpduItem;
  it.type = f.stpType;
  it.version = f.stpVersion;
  it.flags = f.stpFlags;
  it.rootPrio = f.stpRootPriority;
  it.rootMac = f.stpRootMac;
  it.bridgePrio = f.stpBridgePriority;
  it.bridgeMac = f.stpBridgeMac;
  it.port = f.stpPortId;
  it.cost = f.stpRootPathCost;
  return it;
}

class StpLink implements LinkDetector {
  readonly interest = FrameClass.LLC;
  private readonly trees = new Map<number, Tree>();

  onFrame(f: Frame): void {
    if ((f.layers & Layer.STP) === 0) return;
    const vlan = vlanScope(f);
    // A PVST+ BPDU tagged with its own VLAN belongs to that VLAN's tree anyway.
    const ext = f.stpRootPriority & 0xfff;
    const pvstVlan = f.snapOui === Oui.CISCO && f.stpType !== BpduType.TCN && ext !== vlan ? ext : -1;
    const key = vlan * 8192 + (pvstVlan + 1);
    let t = this.trees.get(key);
    if (t === undefined) {
      t = {
        vlan,
        pvstVlan,
        protocols: 0,
        span: new Span(),
        config: 0,
        rst: 0,
        tcn: 0,
        tcFlag: 0,
        tcEvents: 0,
        tcSpan: new Span(),
        roots: [],
        cur: null,
        rootChanges: 0,
        bridges: new Map(),
        sample: new EvidenceSample(),
        changeSample: new EvidenceSample(),
        tcSample: new EvidenceSample(),
      };
      this.trees.set(key, t);
    }
    t.span.add(f);
    t.protocols |= f.snapOui === Oui.CISCO ? Proto.PVST : f.stpVersion >= 3 ? Proto.MSTP : f.stpVersion === 2 ? Proto.RSTP : Proto.STP;
    let b = t.bridges.get(f.srcMac);
    if (b === undefined) {
      b = { src: f.srcMac, prio: -1, mac: 0, ports: [], bpdus: 0, tcn: 0, tcFlag: 0, tcEvents: 0, inTc: false, lastTcSec: 0, lastTcNs: 0, gaps: new GapStats(), helloTime: 0, maxAge: 0, forwardDelay: 0, rootPathCost: 0 };
      t.bridges.set(f.srcMac, b);
    }
    b.bpdus++;
    b.gaps.add(f.tsSec, f.tsNs);
    if (wouldKeep(t.sample, f.frameNo)) t.sample.add(bpduItem(f, 'BPDU'));
    else skipItem(t.sample);

    const isTcn = f.stpType === BpduType.TCN;
    // A configuration or RST BPDU cut short has no usable root and flags.
    const full = !isTcn && f.truncated === 0;
    const tc = isTcn || (full && (f.stpFlags & BpduFlag.TOPOLOGY_CHANGE) !== 0);
    if (isTcn) {
      t.tcn++;
      b.tcn++;
    } else if (f.stpType === BpduType.RST) t.rst++;
    else t.config++;
    if (tc) {
      if (!isTcn) {
        t.tcFlag++;
        b.tcFlag++;
      }
      t.tcSpan.add(f);
      // A bridge signals one change for a while (TCNs every hello until acknowledged, the TC flag
      // for max-age + forward-delay); a silence of more than three hellos ends the episode.
      const hello = b.helloTime > 0 ? b.helloTime / 256 : 2;
      if (b.inTc && f.tsSec - b.lastTcSec + (f.tsNs - b.lastTcNs) / 1e9 > 3 * hello) b.inTc = false;
      b.lastTcSec = f.tsSec;
      b.lastTcNs = f.tsNs;
      if (!b.inTc) {
        b.inTc = true;
        b.tcEvents++;
        t.tcEvents++;
      }
      if (wouldKeep(t.tcSample, f.frameNo)) t.tcSample.add(bpduItem(f, 'TC'));
      else skipItem(t.tcSample);
    } else if (full) {
      b.inTc = false;
    }
    if (!full) return;

    b.prio = f.stpBridgePriority;
    b.mac = f.stpBridgeMac;
    if (b.ports.length < 8 && !b.ports.includes(f.stpPortId)) b.ports.push(f.stpPortId);
    b.helloTime = f.stpHelloTime;
    b.maxAge = f.stpMaxAge;
    b.forwardDelay = f.stpForwardDelay;
    b.rootPathCost = f.stpRootPathCost;

    let r = t.cur;
    if (r === null || r.prio !== f.stpRootPriority || r.mac !== f.stpRootMac) {
      const prev = r;
      r = this.root(t, f.stpRootPriority, f.stpRootMac);
      t.cur = r;
      if (prev !== null) {
        t.rootChanges++;
        if (wouldKeep(t.changeSample, f.frameNo)) {
          const it = bpduItem(f, 'root change');
          it.prevRootPrio = prev.prio;
          it.prevRootMac = prev.mac;
          t.changeSample.add(it);
        } else skipItem(t.changeSample);
      }
    }
    r.bpdus++;
    r.span.add(f);
  }

  private root(t: Tree, prio: number, mac: number): Root {
    for (const r of t.roots) if (r.prio === prio && r.mac === mac) return r;
    const r: Root = { prio, mac, bpdus: 0, span: new Span() };
    t.roots.push(r);
    return r;
  }

  partial(): Partial {
    return { trees: [...this.trees.values()] };
  }
}

function protocolNames(bits: number): string[] {
  const out: string[] = [];
  if (bits & Proto.STP) out.push('STP (802.1D)');
  if (bits & Proto.RSTP) out.push('RSTP (802.1w)');
  if (bits & Proto.MSTP) out.push('MSTP (802.1s)');
  if (bits & Proto.PVST) out.push('Cisco PVST+');
  return out;
}

function bpduKind(it: BpduItem): string {
  if (it.type === BpduType.TCN) return 'TCN BPDU';
  const v = it.version >= 3 ? 'MST' : it.version === 2 ? 'RST' : 'Config';
  return `${v} BPDU`;
}

function describeItem(it: BpduItem): EvidenceItem {
  let what: string;
  if (it.type === BpduType.TCN) what = 'TCN BPDU (topology change notification)';
  else {
    const tc = (it.flags & BpduFlag.TOPOLOGY_CHANGE) !== 0 ? ', TC flag' : '';
    what = `${bpduKind(it)}, root ${formatBridgeId(it.rootPrio, it.rootMac)} cost ${it.cost}, bridge ${formatBridgeId(it.bridgePrio, it.bridgeMac)} port 0x${it.port.toString(16).padStart(4, '0')}${tc}`;
    if (it.prevRootPrio !== undefined) what = `root changed from ${formatBridgeId(it.prevRootPrio, it.prevRootMac!)}: ${what}`;
  }
  const out: EvidenceItem = { frame: it.frame, tsSec: it.tsSec, tsNs: it.tsNs, what };
  if (it.srcMac !== undefined) out.srcMac = it.srcMac;
  if (it.dstMac !== undefined) out.dstMac = it.dstMac;
  return out;
}

function treeName(vlan: number, pvstVlan: number): string {
  const base = vlan === 0 ? 'spanning tree (untagged BPDUs)' : `spanning tree, VLAN ${vlan}`;
  return pvstVlan < 0 ? base : `${base}, PVST+ VLAN ${pvstVlan}`;
}

function reduceTree(t: Tree, tcLow: number): Finding {
  const n = t.span.n;
  const seconds = t.span.seconds();
  const rate = n >= 2 && seconds > 0 ? (n - 1) / seconds : null;
  const roots = [...t.roots].sort((a, b) => a.span.firstFrame - b.span.firstFrame);
  const bridges = [...t.bridges.values()].sort((a, b) => a.src - b.src);
  const rootText = roots.length === 0 ? 'no root announced (TCN BPDUs only)' : roots.length === 1 ? `root ${formatBridgeId(roots[0]!.prio, roots[0]!.mac)}` : `${roots.length} roots: ${roots.map((r) => `${formatBridgeId(r.prio, r.mac)} (frames ${r.span.firstFrame}-${r.span.lastFrame})`).join(', ')}`;
  const senders = bridges.map((b) => (b.prio >= 0 ? `${formatMac(b.src)} (bridge ${formatBridgeId(b.prio, b.mac)})` : formatMac(b.src)));
  const period = bridges.length === 1 ? bridges[0]!.gaps.describe() : null;
  const tcText =
    t.tcEvents === 0
      ? 'no topology change'
      : `${plural(t.tcEvents, 'topology change')} (${plural(t.tcFlag, 'BPDU')} with the TC flag, ${plural(t.tcn, 'TCN BPDU')}, frames ${t.tcSpan.firstFrame}-${t.tcSpan.lastFrame})`;
  const summary =
    `${protocolNames(t.protocols).join(' + ')}: ${rootText}; ${plural(n, 'BPDU')} from ${bridges.length === 1 ? senders[0] : `${bridges.length} bridges: ${senders.join(', ')}`}` +
    (period ? ` ${period}` : '') +
    (rate !== null ? `, ${roundTo(rate, 2)} BPDU/s` : '') +
    `; ${tcText}` +
    (t.rootChanges > 0 ? `; root changed ${plural(t.rootChanges, 'time')}` : '');

  let severity: Severity = 'info';
  if (tcLow > 0 && t.tcEvents >= tcLow) severity = 'low';
  if (roots.length > 1) severity = 'medium';

  const explanation: string[] = [
    'Spanning-tree BPDUs show that the switch or bridge on this link runs STP: the bridge with the lowest bridge id (priority, then MAC) is the root, and every other bridge blocks its redundant ports so that the topology has no loop.',
  ];
  if (roots.length > 1)
    explanation.push(
      'More than one root was announced in this domain: the tree re-converged (a bridge with a better, lower priority or MAC joined, the root went down, a link failed), or two STP domains were joined through a device that filters BPDUs. While it re-converges ports stop forwarding (30 s with 802.1D, less with RSTP) and MAC tables are flushed, so traffic stops, then floods.',
    );
  if (t.tcEvents > 0)
    explanation.push(
      `A topology change (TC flag, TCN BPDU) makes every bridge age its MAC table out in forward-delay (15 s by default) with STP, or flush it at once with RSTP: until hosts are learned again, unicast frames are flooded to every port (the "one SYN, two answers" of incident 1 starts like that). A port without edge/portfast that goes up or down (a host or VM rebooting) causes one.`,
    );
  if (roots.length <= 1 && t.tcEvents === 0) explanation.push('One root and no topology change: the tree is stable. This finding is context: who the root is, which bridges talk, how often (the hello time).');

  const remediation: string[] = [];
  if (roots.length > 1)
    remediation.push(
      'Pin the root: give the intended core switch the lowest priority (`spanning-tree vlan <id> priority 4096`, `spanning-tree mst 0 priority 4096`; a Linux bridge: `ip link set dev br0 type bridge priority 4096`) and protect it with root guard on downlinks (`spanning-tree guard root`) and BPDU guard on host ports (`spanning-tree bpduguard enable`).',
    );
  if (t.tcEvents > 0)
    remediation.push(
      'Find where the changes come from (`show spanning-tree detail | include occurr|from` on the switch shows the count and the port; `mstpctl showbridge`/`bridge -d link` on Linux) and make host, hypervisor and VM ports edge ports (`spanning-tree portfast`, `mstpctl setportadminedge <br> <port> yes`) so that their link changes do not flush the tables; fix a flapping link.',
    );
  if (remediation.length === 0) remediation.push('Nothing to fix. Check that the root is the switch you intend (the lowest priority should be configured, not left to the lowest MAC).');

  const changeItems = (t.changeSample.items as BpduItem[]).map(describeItem);
  const tcItems = (t.tcSample.items as BpduItem[]).map(describeItem);
  const sampleItems = (t.sample.items as BpduItem[]).slice(0, roots.length > 1 || t.tcEvents > 0 ? 3 : 8).map(describeItem);

  return makeFinding({
    id: ID,
    severity,
    subject: treeName(t.vlan, t.pvstVlan),
    summary,
    count: n,
    first: t.span.first(),
    last: t.span.last(),
    evidence: mergeEvidence(sampleItems, changeItems, tcItems),
    evidenceTotal: n,
    explanation: explanation.join(' '),
    remediation: remediation.join(' '),
    details: {
      vlan: t.vlan,
      pvstVlan: t.pvstVlan < 0 ? null : t.pvstVlan,
      protocols: protocolNames(t.protocols),
      bpdus: n,
      configBpdus: t.config,
      rstBpdus: t.rst,
      tcnBpdus: t.tcn,
      tcFlagBpdus: t.tcFlag,
      topologyChanges: t.tcEvents,
      firstTcFrame: t.tcSpan.n > 0 ? t.tcSpan.firstFrame : null,
      lastTcFrame: t.tcSpan.n > 0 ? t.tcSpan.lastFrame : null,
      bpdusPerSecond: rate === null ? null : roundTo(rate, 4),
      seconds: roundTo(seconds, 9),
      rootChanges: t.rootChanges,
      roots: roots.map((r) => ({ id: formatBridgeId(r.prio, r.mac), priority: r.prio, mac: formatMac(r.mac), bpdus: r.bpdus, firstFrame: r.span.firstFrame, lastFrame: r.span.lastFrame })),
      bridges: bridges.map((b) => ({
        srcMac: formatMac(b.src),
        bridgeId: b.prio >= 0 ? formatBridgeId(b.prio, b.mac) : null,
        ports: [...b.ports].sort((x, y) => x - y).map((p) => `0x${p.toString(16).padStart(4, '0')}`),
        bpdus: b.bpdus,
        tcnBpdus: b.tcn,
        tcFlagBpdus: b.tcFlag,
        topologyChanges: b.tcEvents,
        interval: b.gaps.toJSON(),
        rootPathCost: b.rootPathCost,
        helloTimeSeconds: b.helloTime / 256,
        maxAgeSeconds: b.maxAge / 256,
        forwardDelaySeconds: b.forwardDelay / 256,
      })),
    },
  });
}

export const stpDetector: Detector = {
  name: ID,
  ids: [ID],
  scope: 'link',
  options: [
    {
      key: OPT_TC_LOW,
      description: 'topology changes (TC flag episodes, TCN BPDUs) in one spanning tree from which the STP finding is raised from info to low (0: never)',
      default: 1,
      min: 0,
      max: 1e9,
      unit: 'changes',
      integer: true,
    },
  ],
  createLink(_options: OptionValues): LinkDetector {
    return new StpLink();
  },
  reduce(partials, ctx): Finding[] {
    const tcLow = ctx.options[OPT_TC_LOW] ?? 1;
    const trees = (partials as Partial[]).flatMap((p) => p.trees).sort((a, b) => a.vlan - b.vlan || a.pvstVlan - b.pvstVlan);
    return trees.map((t) => reduceTree(t, tcLow));
  },
};
