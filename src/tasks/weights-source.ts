/**
 * Where a model's weights come from, with an explicit lifetime: a file that is read when a graph needs
 * building (not at all when every graph comes from the model cache), held until `drop()`, or a state dict
 * the caller already has in memory (never dropped).
 */
import { fileFingerprint } from '../engine/cache.js';
import { loadWeights, type StateDict } from '../weights/index.js';

export class WeightsSource {
  private held?: StateDict;
  private reading?: Promise<StateDict>;

  private constructor(
    /** The weights file as given, or undefined for in-memory weights. */
    readonly path: string | undefined,
    memory?: StateDict,
  ) {
    this.held = memory;
  }

  static of(weights: string | StateDict): WeightsSource {
    return typeof weights === 'string' ? new WeightsSource(weights) : new WeightsSource(undefined, weights);
  }

  /** The tensors: read from the file on the first call after creation or `drop()`, then held. */
  tensors(): Promise<StateDict> {
    if (this.held) return Promise.resolve(this.held);
    this.reading ??= loadWeights(this.path!).then(
      (sd) => {
        this.held = sd;
        this.reading = undefined;
        return sd;
      },
      (e: unknown) => {
        this.reading = undefined;
        throw e;
      },
    );
    return this.reading;
  }

  /** Whether the tensors are in memory now. */
  get loaded(): boolean {
    return this.held !== undefined;
  }

  /** Lets go of a file's tensors (ORT sessions hold their own copies); in-memory weights stay. */
  drop(): void {
    if (this.path !== undefined) this.held = undefined;
  }

  /**
   * A cheap identity of the weights file (path, size, mtime and sampled blocks; engine/cache.ts), or
   * undefined for in-memory weights (the model cache does not key those) and for a file that cannot be
   * read (`tensors()` then says why).
   */
  fingerprint(): string | undefined {
    if (this.path === undefined) return undefined;
    try {
      return fileFingerprint(this.path);
    } catch {
      return undefined;
    }
  }
}
