/**
 * Optional per-packet checks a Stream can run in accept(), as gopacket offers them:
 *
 *   TCPSimpleFSM    a connection state machine (closed → SYN sent → established → closing /
 *                   reset) that refuses packets that make no sense in the current state;
 *                   `supportMissingEstablishment` accepts connections picked up mid-stream.
 *   TCPOptionCheck  per direction: payload within the peer's MSS (unless segmentation offload is
 *                   allowed), window scale announced only on SYN, timestamps that do not go
 *                   backwards (PAWS, RFC 7323 §5).
 *
 * Neither is used by the Assembler itself; they report, the Stream decides (return false from
 * accept() to make the assembler ignore the packet).
 */
import { TcpFlags, type TcpHeader } from '../decode/layers';
import { seqDiff } from './sequence';
import type { TCPFlowDirection } from './types';

const { FIN, SYN, RST, ACK } = TcpFlags;

export type TcpState = 'closed' | 'syn-sent' | 'syn-received' | 'established' | 'closing' | 'closed-fin' | 'reset';

export interface TCPSimpleFSMOptions {
  /** Accept a connection whose handshake was not captured (mid-stream pickup). */
  supportMissingEstablishment?: boolean;
}

export class TCPSimpleFSM {
  state: TcpState = 'closed';
  private readonly fins = [false, false];

  constructor(private readonly opts: TCPSimpleFSMOptions = {}) {}

  /** True if the packet fits the connection's state (and the state moves on); false if not. */
  checkState(t: TcpHeader, dir: TCPFlowDirection): boolean {
    const f = t.flags;
    if (f & RST) {
      if (this.state === 'closed' && !this.opts.supportMissingEstablishment) return false;
      this.state = 'reset';
      return true;
    }
    switch (this.state) {
      case 'closed':
        if ((f & (SYN | ACK)) === SYN && dir === 0) {
          this.state = 'syn-sent';
          return true;
        }
        if (this.opts.supportMissingEstablishment) {
          this.state = 'established';
          return this.established(f, dir);
        }
        return false;
      case 'syn-sent':
        if ((f & (SYN | ACK)) === (SYN | ACK) && dir === 1) {
          this.state = 'syn-received';
          return true;
        }
        return (f & (SYN | ACK)) === SYN && dir === 0; // SYN retransmission
      case 'syn-received':
        if ((f & (SYN | ACK)) === ACK && dir === 0) {
          this.state = 'established';
          return this.established(f, dir);
        }
        return (f & SYN) !== 0; // handshake retransmissions
      case 'established':
      case 'closing':
        return this.established(f, dir);
      case 'closed-fin':
        // the last ACK (nothing but ACK), and retransmitted FINs
        return (f & 0x3f) === ACK || (f & FIN) !== 0;
      case 'reset':
        return false;
    }
  }

  private established(f: number, dir: TCPFlowDirection): boolean {
    if (f & SYN) return false;
    if (f & FIN) {
      this.fins[dir] = true;
      this.state = this.fins[0] && this.fins[1] ? 'closed-fin' : 'closing';
    }
    return true;
  }
}

export interface TCPOptionCheckOptions {
  /** Captures taken on a host with TSO/GSO/GRO see segments larger than the MSS (default true). */
  allowOffload?: boolean;
}

/** Per-connection option checks; `accept` returns null or what is wrong. */
export class TCPOptionCheck {
  private readonly mss = [0, 0];
  private readonly scale = [-1, -1];
  private readonly lastTs = [0, 0];
  private readonly tsSeen = [false, false];

  constructor(private readonly opts: TCPOptionCheckOptions = {}) {}

  accept(t: TcpHeader, payloadLength: number, dir: TCPFlowDirection): string | null {
    const f = t.flags;
    if (f & SYN) {
      if (t.mss >= 0) this.mss[dir] = t.mss;
      if (t.windowScale >= 0) {
        if (t.windowScale > 14) return `window scale ${t.windowScale} exceeds 14 (RFC 7323 §2.3)`;
        this.scale[dir] = t.windowScale;
      }
    } else if (t.windowScale >= 0) return 'window scale option on a segment without SYN';
    const peerMss = this.mss[dir ^ 1];
    if (!(this.opts.allowOffload ?? true) && peerMss > 0 && payloadLength > peerMss)
      return `payload of ${payloadLength} bytes exceeds the MSS of ${peerMss} the receiver announced`;
    if (t.hasTimestamps && !(f & RST)) {
      if (this.tsSeen[dir] && seqDiff(this.lastTs[dir], t.tsVal | 0) < 0) return `timestamp ${t.tsVal} went backwards (PAWS)`;
      this.lastTs[dir] = t.tsVal | 0;
      this.tsSeen[dir] = true;
    }
    return null;
  }
}
