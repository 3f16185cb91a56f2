/**
 * The baseline the engine is measured against: a straightforward TCP reassembler, the kind one
 * writes first in JavaScript. A Map from a "src:port-dst:port" string to the connection, and per
 * direction a sorted array of out-of-order segments (each a copied Uint8Array); in-order data is
 * handed over as a view, what becomes contiguous is drained from the array, holes are skipped only
 * at the end. It is correct for the benchmark's traffic (it counts the same bytes as the engine),
 * just not built for speed or bounded memory.
 */
import { formatIP, type DecodedPacket } from '../../main/engine/decode';

interface Seg {
  seq: number;
  data: Uint8Array;
}

interface Dir {
  started: boolean;
  next: number;
  pending: Seg[];
  fin: boolean;
}

interface Conn {
  dirs: Map<string, Dir>;
}

const diff = (a: number, b: number) => (b - a) | 0;

export class BaselineReassembler {
  private conns = new Map<string, Conn>();
  bytes = 0;

  private deliver(d: Uint8Array): void {
    this.bytes += d.length;
  }

  packet(p: DecodedPacket): void {
    const t = p.tcp;
    const src = `${formatIP(p.ipVersion, p.src)}:${t.srcPort}`;
    const dst = `${formatIP(p.ipVersion, p.dst)}:${t.dstPort}`;
    const key = src < dst ? `${src}-${dst}` : `${dst}-${src}`;
    let c = this.conns.get(key);
    if (!c) {
      c = { dirs: new Map() };
      this.conns.set(key, c);
    }
    let d = c.dirs.get(src);
    if (!d) {
      d = { started: false, next: 0, pending: [], fin: false };
      c.dirs.set(src, d);
    }
    let seq = t.seq;
    if (t.flags & 0x02) {
      seq = (seq + 1) >>> 0;
      if (!d.started) {
        d.started = true;
        d.next = seq;
      }
    }
    const payload = p.buf.subarray(p.payloadOffset, p.payloadOffset + p.payloadCaptured);
    if (payload.length > 0) {
      if (!d.started) {
        d.started = true;
        d.next = seq;
      }
      this.add(d, seq, payload);
    }
    const rst = (t.flags & 0x04) !== 0;
    if (t.flags & 0x01) d.fin = true;
    if (rst || (d.fin && c.dirs.size === 2 && [...c.dirs.values()].every((x) => x.fin))) {
      for (const x of c.dirs.values()) this.flush(x);
      this.conns.delete(key);
    }
  }

  private add(d: Dir, seq: number, data: Uint8Array): void {
    const off = diff(d.next, seq);
    if (off < 0) {
      if (-off >= data.length) return;
      data = data.subarray(-off);
      seq = d.next;
    }
    if (seq === d.next) {
      this.deliver(data);
      d.next = (d.next + data.length) >>> 0;
      this.drain(d);
      return;
    }
    // binary insert of a copy
    const copy = data.slice();
    let lo = 0;
    let hi = d.pending.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (diff(d.pending[mid].seq, seq) > 0) lo = mid + 1;
      else hi = mid;
    }
    d.pending.splice(lo, 0, { seq, data: copy });
  }

  private drain(d: Dir): void {
    while (d.pending.length > 0) {
      const s = d.pending[0];
      const off = diff(d.next, s.seq);
      if (off > 0) return;
      d.pending.shift();
      if (-off < s.data.length) {
        const rest = s.data.subarray(-off);
        this.deliver(rest);
        d.next = (d.next + rest.length) >>> 0;
      }
    }
  }

  private flush(d: Dir): void {
    while (d.pending.length > 0) {
      d.next = d.pending[0].seq;
      this.drain(d);
    }
  }

  /** End of input: deliver what is left, skipping holes. */
  end(): void {
    for (const c of this.conns.values()) for (const d of c.dirs.values()) this.flush(d);
    this.conns.clear();
  }
}
