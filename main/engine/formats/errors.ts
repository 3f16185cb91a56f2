/**
 * Typed errors for capture files.
 *
 * A reader never throws anything but {@link CaptureFormatError} for bad input. The error names the
 * source (file name when known), the absolute byte offset where reading stopped, what was wrong,
 * and what the user can do about it. Everything delivered before the error is good data: readers
 * deliver every complete record in front of the damage before they throw.
 */

/** What kind of damage stopped the reader. */
export type CaptureErrorKind =
  | 'empty' // zero-byte input
  | 'not-a-capture' // magic number not recognised
  | 'unsupported-version' // pcapng section version we do not know
  | 'truncated' // input ends inside a header or record
  | 'bad-record' // a record or block whose lengths cannot be right
  | 'bad-interface'; // a pcapng packet that names an interface that was never described

export class CaptureFormatError extends Error {
  override readonly name = 'CaptureFormatError';
  constructor(
    readonly kind: CaptureErrorKind,
    /** Absolute byte offset in the input where the damaged header or record starts. */
    readonly offset: number,
    /** Description without the source name, e.g. "record 3 claims 4294967280 bytes". */
    readonly detail: string,
    /** The file name (or "-" for stdin); set by whoever knows it. */
    public source = '',
    /** Number of packets delivered before the damage. */
    public packetsBefore = 0,
  ) {
    super(detail);
    this.message = this.describe();
  }

  /** Attach the source name after the fact (readers do not know file names). */
  withSource(source: string): this {
    this.source = source;
    this.message = this.describe();
    return this;
  }

  /** One line for people: source, offset, what is wrong, what to do. */
  describe(): string {
    const where = this.source ? `${this.source}: ` : '';
    return `${where}${this.detail} at byte offset ${this.offset}${hintFor(this.kind)}`;
  }
}

function hintFor(kind: CaptureErrorKind): string {
  switch (kind) {
    case 'empty':
      return ' (the file is empty: was the capture written completely?)';
    case 'not-a-capture':
      return ' (expected a pcap or pcapng file; convert other formats with editcap or tshark -F pcapng)';
    case 'unsupported-version':
      return ' (re-save it with a current tool, e.g. editcap -F pcapng)';
    case 'truncated':
      return ' (the capture was cut short; every packet before this point was read)';
    case 'bad-record':
    case 'bad-interface':
      return ' (the file is damaged here; every packet before this point was read)';
  }
}
