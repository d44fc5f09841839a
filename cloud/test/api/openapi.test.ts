import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI } from '../../src/api/openapi.js';
import { ROUTES } from '../../src/api/routes.js';
import { get, startVillage, type Village } from './fixture.js';

let v: Village;
beforeAll(async () => {
  v = await startVillage();
});
afterAll(async () => {
  await v?.close();
});

describe('OpenAPI document', () => {
  it('is served as JSON that parses back to the typed document', async () => {
    const r = await get(v.base, '/api/openapi.json', v.tokens.viewer);
    expect(r.status).toBe(200);
    expect(r.body).toEqual(JSON.parse(JSON.stringify(OPENAPI)));
    expect((r.body as { openapi: string }).openapi).toBe('3.1.0');
  });

  it('describes exactly the implemented routes', () => {
    const documented = Object.entries(OPENAPI.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    expect(documented.sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  });

  it.each(ROUTES.map((r) => [`${r.method} ${r.path}`, r] as const))('%s: same path and query parameters, same role, same auth, a body where it takes one', (_, route) => {
    const path = route.path;
    const op = OPENAPI.paths[path]?.[route.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete'];
    expect(op).toBeDefined();
    const params = op?.parameters ?? [];
    expect(params.filter((p) => p.in === 'query').map((p) => p.name).sort()).toEqual(Object.keys(route.query.shape).sort());
    expect(params.filter((p) => p.in === 'path').map((p) => p.name).sort()).toEqual([...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort());
    if (route.role === 'public') expect(op?.security).toEqual([]);
    else expect(op?.['x-role']).toBe(route.role);
    // A body is documented exactly where the route reads one, with the same top-level fields.
    const documented = op?.requestBody?.content['application/json']?.schema;
    if (route.body === undefined) expect(documented).toBeUndefined();
    else expect(Object.keys(documented?.properties ?? {}).sort()).toEqual(Object.keys((route.body as unknown as { shape: object }).shape).sort());
    if (route.sessionOnly) expect(op?.security).toEqual([{ session: [] }]);
  });

  it('resolves every $ref', () => {
    const text = JSON.stringify(OPENAPI);
    for (const [, kind, name] of text.matchAll(/"#\/components\/(schemas|responses)\/(\w+)"/g)) {
      expect((OPENAPI.components as Record<string, Record<string, unknown>>)[kind as string]?.[name as string], `${kind}/${name}`).toBeDefined();
    }
  });
});
