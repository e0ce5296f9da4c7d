/**
 * Which request paths are VTEX's, and how they reach their routes.
 *
 * VTEX's front door answers a path whatever the letter case of its fixed segments and with or
 * without a trailing slash (`/API/VLM/AppKeys/`), and integrations rely on it. The router matches
 * exactly, so the app's `getPath` (app.ts) hands it the registered spelling: a VTEX path that
 * differs from a registered VTEX route only in those ways is rewritten to it. Parameter segments
 * (ids, appKeys, user ids) keep their exact text: they are matched exactly by the routes.
 */

/** The prefixes of the VTEX-compatible paths (any letter case). */
const VTEX_PREFIX = /^\/api\/(vlm|license-manager|vtexid)(\/|$)/i;

export function isVtexPath(path: string): boolean {
  return VTEX_PREFIX.test(path);
}

interface Template {
  path: string;
  segments: readonly string[];
  literals: number;
}

const isParam = (segment: string) => segment.startsWith(":");

function template(path: string): Template {
  const segments = path.split("/");
  return { path, segments, literals: segments.filter((segment) => !isParam(segment)).length };
}

/** The registered spelling of `segments` by `route`, or undefined when it is not that route. */
function spell(route: Template, segments: readonly string[]): string | undefined {
  if (route.segments.length !== segments.length) return undefined;
  const spelled: string[] = [];
  for (const [index, expected] of route.segments.entries()) {
    const given = segments[index] ?? "";
    if (isParam(expected)) {
      if (given === "") return undefined;
      spelled.push(given);
    } else if (expected.toLowerCase() === given.toLowerCase()) spelled.push(expected);
    else return undefined;
  }
  return spelled.join("/");
}

export function createVtexPathResolver() {
  let routes: Template[] = [];
  return {
    /** The app's registered route paths (all of them; the VTEX ones are kept), once all are registered. */
    learn(paths: readonly string[]): void {
      const vtex = [...new Set(paths)].filter((path) => isVtexPath(path) && !path.includes("*"));
      // The route with the most fixed segments wins where two could take a path.
      routes = vtex.map(template).sort((a, b) => b.literals - a.literals);
    },

    /** `path` as the router should see it: a VTEX route's registered spelling, else unchanged. */
    resolve(path: string): string {
      if (!isVtexPath(path)) return path;
      const trimmed = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
      const segments = trimmed.split("/");
      for (const route of routes) {
        const spelled = spell(route, segments);
        if (spelled !== undefined) return spelled;
      }
      return path;
    },
  };
}
