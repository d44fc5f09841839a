import type { CloudStore } from '../store/types.js';
import { buildSiteModel, type SiteModel } from './model.js';

/**
 * Each site's model, read from the stored edge states and kept until an edge's control or meta
 * changes (the ingest says so) or it is `maxAgeMs` old (another worker may have stored a newer
 * state). peek() serves filters that must answer synchronously (a live stream's events).
 */
export class SiteModels {
  private readonly cache = new Map<string, { model: SiteModel; at: number }>();
  private readonly loading = new Map<string, Promise<SiteModel>>();

  constructor(
    private readonly store: CloudStore,
    private readonly now: () => number,
    private readonly maxAgeMs = 10_000,
  ) {}

  async get(site: string): Promise<SiteModel> {
    const hit = this.cache.get(site);
    const now = this.now();
    if (hit && now - hit.at < this.maxAgeMs && now >= hit.at) return hit.model;
    return this.load(site);
  }

  /** The last model read (undefined before the first get()). */
  peek(site: string): SiteModel | undefined {
    return this.cache.get(site)?.model;
  }

  /** Reads the site again now (after the ingest stored a changed state). */
  refresh(site: string): Promise<SiteModel> {
    return this.load(site, true);
  }

  private load(site: string, force = false): Promise<SiteModel> {
    const running = this.loading.get(site);
    if (running && !force) return running;
    const p = (running ?? Promise.resolve())
      .catch(() => undefined)
      .then(async () => {
        const model = buildSiteModel(site, await this.store.edgeStates(site));
        this.cache.set(site, { model, at: this.now() });
        return model;
      });
    this.loading.set(site, p);
    void p
      .finally(() => {
        if (this.loading.get(site) === p) this.loading.delete(site);
      })
      .catch(() => undefined);
    return p;
  }
}
