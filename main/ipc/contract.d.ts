/**
 * The one contract between the renderer and the main side (Electron IPC or `weft serve`): every
 * channel, its payload and result types, and a runtime guard for every payload. Main checks each
 * request with its guard before a handler sees it; handlers answer with data, never by throwing
 * across the boundary: {ok: true, value} or {ok: false, error}. The renderer imports this file for
 * its types only.
 */
export type Result<T> = {
    ok: true;
    value: T;
} | {
    ok: false;
    error: string;
};
export type FlowState = 'open' | 'fin' | 'rst' | 'idle' | 'end-of-input';
/** One row of the flows table. */
export interface FlowRow {
    id: number;
    client: string;
    server: string;
    ipVersion: number;
    firstSeen: number;
    lastSeen: number;
    packets: {
        c2s: number;
        s2c: number;
    };
    bytes: {
        c2s: number;
        s2c: number;
    };
    gaps: {
        c2s: number;
        s2c: number;
    };
    state: FlowState;
    directionInferred: boolean;
    anomalies: Record<string, number>;
    conflicts: number;
    sha256: {
        c2s: string;
        s2c: string;
    } | null;
    protocol: string | null;
}
export interface SessionStats {
    packets: number;
    bytes: number;
    tcpPackets: number;
    activeFlows: number;
    completedFlows: number;
    anomalies: Record<string, number>;
    decodeErrors: number;
    bufferedPages: number;
    spoolBytes: number;
    /** Bytes per second over the last second of work. */
    throughput: number;
    drops: number;
}
export interface Job {
    id: number;
    path: string;
    bytesDone: number;
    bytesTotal: number;
    packets: number;
    state: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
    error: string | null;
}
export type SortKey = 'id' | 'client' | 'server' | 'packets' | 'bytesC2s' | 'bytesS2c' | 'duration' | 'state' | 'firstSeen' | 'gaps';
export interface FlowQuery {
    offset: number;
    limit: number;
    sort?: {
        key: SortKey;
        dir: 'asc' | 'desc';
    };
    filter?: string;
}
export interface FlowPage {
    total: number;
    offset: number;
    rows: FlowRow[];
}
export interface StreamRange {
    id: number;
    dir: 0 | 1;
    from: number;
    to: number;
}
export interface StreamChunk {
    id: number;
    dir: 0 | 1;
    from: number;
    /** The bytes, base64 (JSON-safe on every transport). */
    data: string;
    /** Delivered bytes in the direction so far. */
    length: number;
    provenance: {
        offset: number;
        length: number;
        frame: number;
        tsSec: number;
        tsNsec: number;
    }[];
    gaps: {
        offset: number;
        length: number;
        cause: string;
    }[];
    conflicts: {
        offset: number;
        kept: number[];
        other: number[];
        frame: number;
    }[];
}
/** Pushed to the renderer, throttled to about 10 a second. */
export interface SessionDelta {
    rows: FlowRow[];
    stats: SessionStats;
    jobs: Job[];
}
type Guard<T> = (v: unknown) => v is T;
export declare const guards: {
    openCapture: Guard<{
        path: string;
    }>;
    cancelJob: Guard<{
        id: number;
    }>;
    queryFlows: Guard<FlowQuery>;
    readStream: Guard<StreamRange>;
    getState: Guard<Record<string, never>>;
};
/** Every request channel: its name, payload guard, and result type. */
export interface Channels {
    openCapture: {
        req: {
            path: string;
        };
        res: Job;
    };
    cancelJob: {
        req: {
            id: number;
        };
        res: Job;
    };
    queryFlows: {
        req: FlowQuery;
        res: FlowPage;
    };
    readStream: {
        req: StreamRange;
        res: StreamChunk;
    };
    getState: {
        req: Record<string, never>;
        res: SessionDelta;
    };
}
export type ChannelName = keyof Channels;
export declare const CHANNELS: ChannelName[];
/** The event channel main pushes to the renderer. */
export declare const DELTA_EVENT: "sessionDelta";
/** What the renderer talks to: the preload API under Electron, a WebSocket client under weft serve. */
export type WeftApi = {
    [K in ChannelName]: (req: Channels[K]['req']) => Promise<Result<Channels[K]['res']>>;
} & {
    onDelta(listener: (d: SessionDelta) => void): () => void;
};
export {};
