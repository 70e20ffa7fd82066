/**
 * Free space on the store over time: a sample each time the daemon measures it (after every backup
 * and configuration change). Kept in capacity.json, so the metrics and the report show the same
 * figures after a restart; only the newest MAX_SAMPLES are kept.
 */
import { readJsonIfExists, writeJsonAtomic } from '../util/atomicFile.js';
import type { StateDir } from './stateDir.js';

export interface CapacitySample {
  Time: string;
  AvailableBytes: number;
  TotalBytes: number;
}

/** Two weeks of backups every four hours, and room for on-demand ones. */
export const MAX_SAMPLES = 500;

export class CapacityLog {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly state: StateDir,
    /** Told once each sample is saved (the metrics file shows the newest). */
    private readonly onRecorded: () => void = () => undefined,
  ) {}

  private get file(): string {
    return this.state.capacityFile;
  }

  /** Every sample kept, oldest first. */
  async list(): Promise<CapacitySample[]> {
    return (await readJsonIfExists<CapacitySample[]>(this.file)) ?? [];
  }

  async latest(): Promise<CapacitySample | null> {
    return (await this.list()).at(-1) ?? null;
  }

  record(sample: CapacitySample): Promise<void> {
    const next = this.queue.then(async () => {
      const samples = [...(await this.list()), sample].slice(-MAX_SAMPLES);
      await writeJsonAtomic(this.file, samples);
      this.onRecorded();
    });
    this.queue = next.catch(() => undefined);
    return next;
  }
}
