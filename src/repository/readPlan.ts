/**
 * The order in which a role's chunks are opened (docs/format.md, "Reading a backup"). After changes,
 * a role's chunks come from the packs of several backups, interleaved; the plan is made from the
 * role's whole list up front so that each pack is read as few times as the packs kept allow: the
 * list is cut into batches (runs of consecutive chunks stored in one pack), each knowing where its
 * pack is needed next, and the packs kept between batches are those needed soonest.
 */

export interface Batch {
  pack: string;
  /** The batch's chunks: positions [first, end) of the role's list. */
  first: number;
  end: number;
  plainBytes: number;
  /** The position of the list where the batch's pack is needed next, or Infinity. */
  nextUse: number;
}

/**
 * The list, its chunk at each position stored in `packs[position]` with `lengths(position)` bytes
 * of plaintext, cut into batches of at most `maxBytes` (a larger chunk alone).
 */
export function* planBatches(
  packs: readonly string[],
  lengths: (position: number) => number,
  maxBytes: number,
): Generator<Batch> {
  const nextUse = nextUses(packs);
  for (let first = 0; first < packs.length;) {
    const pack = packs[first]!;
    let end = first + 1;
    let plainBytes = lengths(first);
    for (; end < packs.length && packs[end] === pack && plainBytes + lengths(end) <= maxBytes; end++)
      plainBytes += lengths(end);
    yield { pack, first, end, plainBytes, nextUse: nextUse[end - 1]! };
    first = end;
  }
}

/** For each position, the next position whose chunk is in the same pack, or Infinity. */
function nextUses(packs: readonly string[]): Float64Array {
  const next = new Float64Array(packs.length);
  const later = new Map<string, number>();
  for (let position = packs.length - 1; position >= 0; position--) {
    next[position] = later.get(packs[position]!) ?? Infinity;
    later.set(packs[position]!, position);
  }
  return next;
}

/**
 * The packs kept between batches, at most `capacity`: when one more would be too many, the one
 * needed latest goes (Belady's rule, exact here since the plan knows every later use), and a pack
 * no later batch needs is not kept at all.
 */
export class PackCache<T> {
  private readonly kept = new Map<string, { pack: Promise<T>; nextUse: number }>();

  constructor(
    private readonly capacity: number,
    private readonly read: (name: string) => Promise<T>,
  ) {}

  /** The pack of `batch`, read unless kept. */
  get(batch: Pick<Batch, 'pack' | 'nextUse'>): Promise<T> {
    const pack = this.kept.get(batch.pack)?.pack ?? this.read(batch.pack);
    this.keep(batch.pack, pack, batch.nextUse);
    return pack;
  }

  /** Keeps `pack`, read already, until its next use at `nextUse` (if there is room for it). */
  keep(name: string, pack: Promise<T>, nextUse: number): void {
    this.kept.delete(name);
    if (nextUse === Infinity) return;
    this.kept.set(name, { pack, nextUse });
    if (this.kept.size > this.capacity) this.kept.delete(this.neededLatest());
  }

  private neededLatest(): string {
    let latest: [string, number] = ['', -1];
    for (const [name, { nextUse }] of this.kept) if (nextUse > latest[1]) latest = [name, nextUse];
    return latest[0];
  }
}
