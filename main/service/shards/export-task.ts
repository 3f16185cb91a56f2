/**
 * `weft export`'s second pass in an engine worker: the chosen flows this worker owns write their
 * own files (raw bytes per direction, transcripts) straight into the export's staging folder;
 * what goes into files all flows share — the frames of the pcap / pcapng slice, the HTTP messages
 * of the HAR — are items for the merger, which writes them in one order.
 *
 * The worker does not know the capture-wide numbers pass 1 gave the flows: a chosen flow is named
 * by its creationKey (the packet of the capture that created it), which is the same whatever the
 * number of workers; a connection created here is matched to it at its creation.
 */
import { AFTER_CLOSE } from '../../engine/reassembly';
import { UdpTable } from '../../engine/flows';
import { ContentWriter, type Chosen } from '../export/export';
import { NODE_HASHES } from '../pipeline/hashes';
import { PacketPipeline } from '../pipeline/packet-pipeline';
import { creationKey, type ShardResult } from './results';
import { PipelineTask } from './task';
import { FRAME, HTTP_MESSAGE, NOT_CHOSEN_ENDED, type ChosenEntry, type ExportExtra, type ExportTaskSpec } from './export-items';

export type { ExportTaskSpec } from './export-items';
import type { CapturedPacket } from '../../engine/formats';

/** Pass 2's writer in a worker: a connection's choice is settled when it is created (`creating`), before it is looked up. */
class ShardContentWriter extends ContentWriter {
  constructor(
    private readonly creating: (id: number) => void,
    ...rest: ConstructorParameters<typeof ContentWriter>
  ) {
    super(...rest);
  }

  override chosenConnection(id: number): Chosen | undefined {
    this.creating(id);
    return super.chosenConnection(id);
  }
}

export class ExportTask extends PipelineTask<PacketPipeline, ExportExtra> {
  private readonly writer: ShardContentWriter;

  constructor(spec: ExportTaskSpec, index: number, workers: number) {
    const byKey = (list: ChosenEntry[]) => new Map(list.map(([key, c2s, s2c, transcript, client, server]) => [key, { record: { client, server }, names: [c2s, s2c], transcript } as Chosen]));
    const tcp = byKey(spec.tcp);
    const udp = byKey(spec.udp);
    const chosen = new Map<number, Chosen>();
    const chosenUdp = new Map<number, Chosen>();
    const formats = new Set(spec.formats);
    // a connection created here is chosen when its creation key is; ids are taken in order, so its key is (packet, id − the packet's first)
    const keyOf = (id: number) => creationKey(this.k, id - this.firstId);
    const writer = new ShardContentWriter(
      (id) => {
        const c = tcp.get(keyOf(id));
        if (c) chosen.set(id, c);
      },
      spec.stage,
      formats,
      chosen,
      {
        frame: (f, data) => this.out.bytes(this.k, writer.currentConnection, FRAME, [f.tsSec, f.tsNsec, f.origLen, f.linkType, f.ifIndex, f.file], data),
        message: formats.has('har') ? (m, id) => this.out.item(this.k, id, HTTP_MESSAGE, false, '', 0, true, { message: m }) : null,
        ended: (id) => this.out.item(this.k, id, NOT_CHOSEN_ENDED, true, '', 0, true, null),
      },
      chosenUdp,
    );
    const pipe = new PacketPipeline(writer, { assembler: spec.maxConnections ? { maxConnections: spec.maxConnections } : undefined });
    pipe.udp = new UdpTable({
      hashes: NODE_HASHES,
      nextId: () => pipe.assembler.pool.takeId(),
      maxConversations: spec.maxConnections,
      opened: (c) => {
        const u = udp.get(keyOf(c.id));
        if (u) chosenUdp.set(c.id, u);
      },
      datagram: (c, dir, payload, ci) => writer.udpDatagram(c.id, dir, payload, ci),
      complete: (c) => {
        if (!chosenUdp.has(c.id)) writer.ended(c.id);
      },
    });
    // a packet after its connection closed (the final ACK) is still one of its frames
    pipe.assembler.observer = {
      packet: (id, _dir, _t, _len, _ci, judged) => {
        if (judged & AFTER_CLOSE) writer.currentConnection = id;
      },
    };
    super(pipe, index, workers);
    this.writer = writer;
  }

  override packet(k: number, p: CapturedPacket, shared: boolean): void {
    this.writer.currentConnection = -1;
    super.packet(k, p, shared);
    this.writer.frame(p, this.pipe.last, this.file);
  }

  override end(seq: number, post: (part: ShardResult<ExportExtra>) => void, partBytes: number) {
    const r = super.end(seq, post, partBytes);
    this.writer.files.closeAll();
    return r;
  }
}
