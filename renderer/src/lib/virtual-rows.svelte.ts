/**
 * Virtual rows: the one helper behind every long list (flows, a stream's rows, packets,
 * messages). Rows have one fixed height; only those in view are drawn. The scrollable spacer is
 * as tall as all rows — up to MAX_PX: past that (a 1 GB stream has tens of millions of rows, more
 * than a browser lays out) scroll positions map onto rows proportionally and the wheel moves by
 * rows, so the first and the last row are both reachable and a wheel notch moves as far as on a
 * short list.
 *
 * Use: bind `viewport` to the scrolling element (`onscroll` and `onwheel` wired to it), `height` to
 * its clientHeight; draw rows first … first + visible inside an element translated by `windowTop`,
 * row i at (i − first) × rowH.
 */
const MAX_PX = 8_000_000;

export class VirtualRows {
  total = $state(0);
  scrollTop = $state(0);
  height = $state(400);
  viewport: HTMLElement | undefined = $state();
  /** In scaled mode, the first row shown (the scroll position is derived from it). */
  private scaledFirst = $state(0);
  rowH = $state(18);

  constructor(rowH: number) {
    this.rowH = rowH;
  }


  /** Whether the rows are taller than the spacer may be. */
  readonly scaled = $derived(this.total * this.rowH > MAX_PX);
  readonly spacerH = $derived(Math.min(this.total * this.rowH, MAX_PX));
  readonly visible = $derived(Math.ceil(this.height / this.rowH) + 1);
  /** The last row that can be first (the list scrolled to its end). */
  private readonly lastFirst = $derived(Math.max(0, this.total - Math.floor(this.height / this.rowH)));
  readonly first = $derived(this.scaled ? Math.min(this.scaledFirst, this.lastFirst) : Math.min(Math.floor(this.scrollTop / this.rowH), Math.max(0, this.total - 1)));
  /** Where the drawn rows' container sits in the spacer. */
  readonly windowTop = $derived(this.scaled ? this.scrollTop : this.first * this.rowH);

  onscroll = (e: Event): void => {
    const top = (e.currentTarget as HTMLElement).scrollTop;
    this.scrollTop = top;
    if (this.scaled) {
      const room = Math.max(1, this.spacerH - this.height);
      this.scaledFirst = Math.round((top / room) * this.lastFirst);
    }
  };

  /** Scaled: the wheel moves by rows (a pixel of scrollbar is many rows). */
  onwheel = (e: WheelEvent): void => {
    if (!this.scaled || e.ctrlKey) return;
    e.preventDefault();
    const rows = e.deltaMode === 1 ? e.deltaY : e.deltaMode === 2 ? e.deltaY * this.visible : e.deltaY / this.rowH;
    this.toFirst(this.first + Math.round(rows));
  };

  /** Makes row `i` the first shown. */
  toFirst(i: number): void {
    const f = Math.max(0, Math.min(this.lastFirst, Math.round(i)));
    if (this.scaled) {
      this.scaledFirst = f;
      const room = Math.max(1, this.spacerH - this.height);
      const top = this.lastFirst ? (f / this.lastFirst) * room : 0;
      this.scrollTop = top;
      if (this.viewport) this.viewport.scrollTop = top;
    } else {
      this.scrollTop = f * this.rowH;
      if (this.viewport) this.viewport.scrollTop = f * this.rowH;
    }
  }

  /** Scrolls so row `i` is in view: at the top third (`center`), or just into view. */
  reveal(i: number, how: 'center' | 'nearest' = 'nearest'): void {
    const rowsInView = Math.max(1, Math.floor(this.height / this.rowH));
    if (how === 'center') return this.toFirst(i - Math.floor(rowsInView / 3));
    if (i < this.first) this.toFirst(i);
    else if (i >= this.first + rowsInView) this.toFirst(i - rowsInView + 1);
  }

  /** Where row i is drawn, in the spacer (for lists that place rows in it directly). */
  top(i: number): number {
    return this.windowTop + (i - this.first) * this.rowH;
  }

  /** Rows drawn now: first … first + visible (clipped to the list). */
  get range(): [number, number] {
    return [this.first, Math.min(this.total, this.first + this.visible)];
  }
}
