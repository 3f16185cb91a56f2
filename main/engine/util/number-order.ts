/**
 * Things ended in the order of their numbers as far as a caller says, so that several tables can
 * end at the end of the input in one number order (PacketPipeline.end): the returned function
 * ends, in number order, those numbered below `below` not yet ended (Infinity: the rest).
 */
export function inNumberOrder<T>(items: T[], numberOf: (t: T) => number, end: (t: T) => void): (below: number) => void {
  const sorted = items.sort((a, b) => numberOf(a) - numberOf(b));
  let i = 0;
  return (below) => {
    while (i < sorted.length && numberOf(sorted[i]) < below) end(sorted[i++]);
  };
}
