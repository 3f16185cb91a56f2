/**
 * Per-host overlap policies (target-based reassembly, as Suricata's host-os-policy): "NET=POLICY"
 * says the hosts of NET (an address or a network) keep overlapping bytes the way POLICY's TCP
 * does. A direction's policy is its receiver's — the client's for what the server sends, the
 * server's for what the client sends; the first NET that holds the receiver decides, and hosts
 * in none take the run's `--policy`.
 */
import { endpointHost } from '../../engine/decode/addr';
import { OVERLAP_POLICIES, type Connection, type OverlapPolicy, type TCPFlowDirection } from '../../engine/reassembly';
import { FilterError, ipTest } from './flow-query';

export type PolicyFor = (conn: Connection, dir: TCPFlowDirection) => OverlapPolicy | null;

/** The policyFor of `specs` ("10.0.0.0/8=windows", …); throws a plain Error naming what is wrong. */
export function hostPolicies(specs: readonly string[]): PolicyFor | null {
  if (specs.length === 0) return null;
  const rules = specs.map((spec) => {
    const eq = spec.lastIndexOf('=');
    const net = spec.slice(0, eq).trim();
    const policy = spec.slice(eq + 1).trim() as OverlapPolicy;
    if (eq <= 0 || !(OVERLAP_POLICIES as readonly string[]).includes(policy)) throw new Error(`'${spec}' is not NET=POLICY (NET an address or network, POLICY one of ${OVERLAP_POLICIES.join(', ')})`);
    try {
      return { test: ipTest(net, 0), policy };
    } catch (e) {
      if (e instanceof FilterError) throw new Error(`'${spec}': ${net} is not an address or a network (10.0.0.1, 10.0.0.0/8, 2001:db8::/32)`);
      throw e;
    }
  });
  return (conn, dir) => {
    const host = endpointHost(dir === 0 ? conn.server : conn.client);
    for (const r of rules) if (r.test(host)) return r.policy;
    return null;
  };
}
