/** A route table entry: an OpenAPI-style path template (`/api/sites/{site}/zones/{zone}`) and its method. */
export interface RoutePattern<M extends string = string> {
  method: M;
  path: string;
}

export interface RouteTable<R extends RoutePattern> {
  readonly entries: readonly { route: R; segments: readonly string[] }[];
}

export function routeTable<R extends RoutePattern>(routes: readonly R[]): RouteTable<R> {
  return { entries: routes.map((route) => ({ route, segments: route.path.split('/') })) };
}

/** The route of that path and method with its decoded path parameters, or the methods the path has (for 405). */
export function matchRoute<R extends RoutePattern>(table: RouteTable<R>, pathname: string, method: string | undefined): { route: R; params: Record<string, string> } | { allowed: R['method'][] } {
  const parts = pathname.split('/');
  const allowed: R['method'][] = [];
  for (const { route, segments } of table.entries) {
    if (segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const fits = segments.every((seg, i) => {
      const part = parts[i] as string;
      if (!seg.startsWith('{')) return seg === part;
      if (part === '') return false;
      try {
        params[seg.slice(1, -1)] = decodeURIComponent(part);
      } catch {
        params[seg.slice(1, -1)] = part;
      }
      return true;
    });
    if (!fits) continue;
    if (route.method === method) return { route, params };
    allowed.push(route.method);
  }
  return { allowed };
}
