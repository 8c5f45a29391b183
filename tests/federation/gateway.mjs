// Apollo Gateway (IntrospectAndCompose) in front of federation subgraphs, for the tests in
// tests/federation. The npm packages come from the cache that `python -m
// tests.federation.gateway` fills (pinned there); this file only runs them.
//
//   node gateway.mjs serve   [--port N] [--poll-ms N] [--subgraphs JSON|@FILE] [--modules DIR]
//   node gateway.mjs compose [--repeat N] [--subgraphs JSON|@FILE] [--modules DIR]
//
// Subgraphs (--subgraphs, else $GATEWAY_SUBGRAPHS, which keeps API keys out of `ps`):
//   {"tracker": {"url": "http://127.0.0.1:8001/graphql",
//                "headers": {"Authorization": "Bearer KEY"}, "forward": ["x-request-id"]},
//    "reviews": "http://127.0.0.1:8003/graphql",
//    "saved":   {"sdl": "type Query { a: Int }"}}        (compose mode only)
// `headers` go with every request to that subgraph, introspection included; `forward`
// names headers copied from the client's request to the subgraph's.
//
// serve prints one JSON object a line on stdout: {"event": "composition", ...} for every
// composition (its errors and hints: IntrospectAndCompose throws hints away), "schema" when
// the gateway loads a supergraph, "listening" with the URL, "log" for the gateway's logger,
// "fatal" before exiting 1 (composition failed, a subgraph could not be introspected).
// compose prints one JSON object: supergraph_sdl, errors, hints and timings; exit 1 on errors.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const USAGE = 'usage: gateway.mjs serve|compose [--port N] [--poll-ms N] [--repeat N] ' +
  '[--subgraphs JSON|@FILE] [--modules DIR]';
const SERVICE_SDL = 'query __ApolloGetServiceDefinition__ { _service { sdl } }';

function emit(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
}

function fail(code, message) {
  emit('fatal', { message });
  process.exit(code);
}

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    port: { type: 'string', default: '0' },
    'poll-ms': { type: 'string' },
    repeat: { type: 'string', default: '1' },
    subgraphs: { type: 'string' },
    modules: { type: 'string' },
  },
});
const mode = positionals[0];
if (positionals.length !== 1 || !['serve', 'compose'].includes(mode)) fail(2, USAGE);

// Offline, whatever the environment says: no Apollo cloud (managed mode, usage reporting).
for (const name of Object.keys(process.env)) {
  if (name.startsWith('APOLLO_')) delete process.env[name];
}

const modules = options.modules ?? process.env.CONNECTQL_GATEWAY_CACHE ??
  join(homedir(), '.cache', 'connectql-gateway');
// ESM ignores NODE_PATH: resolve the packages from the cache as if this file lived there.
const require = createRequire(join(modules, 'package.json'));
let gatewayLib, composition, graphql, apolloServer, standalone;
try {
  gatewayLib = require('@apollo/gateway');
  composition = require('@apollo/composition');
  graphql = require('graphql');
  apolloServer = require('@apollo/server');
  standalone = require('@apollo/server/standalone');
} catch (error) {
  fail(2, `${error.message}\n(run \`python -m tests.federation.gateway\` to fill ${modules})`);
}
const { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } = gatewayLib;

function readSubgraphs() {
  let text = options.subgraphs ?? process.env.GATEWAY_SUBGRAPHS;
  if (!text) fail(2, 'no subgraphs: pass --subgraphs or set GATEWAY_SUBGRAPHS');
  if (text.startsWith('@')) text = readFileSync(text.slice(1), 'utf8');
  let given;
  try {
    given = JSON.parse(text);
  } catch (error) {
    fail(2, `subgraphs are not JSON: ${error.message}`);
  }
  if (!given || typeof given !== 'object' || Array.isArray(given) || !Object.keys(given).length) {
    fail(2, 'subgraphs: a JSON object of name -> URL or {url, headers, forward} or {sdl}');
  }
  return Object.entries(given).map(([name, entry]) => {
    const spec = typeof entry === 'string' ? { url: entry } : entry;
    const unknown = Object.keys(spec ?? {}).filter(
      (key) => !['url', 'headers', 'forward', 'sdl'].includes(key));
    if (!spec || unknown.length || !(spec.url || spec.sdl)) {
      fail(2, `subgraph ${name}: needs url (or sdl), may have headers and forward; ` +
        `unknown: ${unknown.join(', ') || 'none'}`);
    }
    return {
      name,
      url: spec.url,
      sdl: spec.sdl,
      headers: spec.headers ?? {},
      forward: (spec.forward ?? []).map((header) => header.toLowerCase()),
    };
  });
}

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

function describeError(error) {
  return { code: error.extensions?.code ?? null, message: error.message };
}

function describeHint(hint) {
  return {
    code: hint.definition.code,
    level: hint.definition.level.name,
    message: hint.message,
    coordinate: hint.coordinate ?? null,
  };
}

// composeServices, timed, with its errors and hints as plain JSON.
function compose(services) {
  const started = performance.now();
  const result = composition.composeServices(services);
  const ms = performance.now() - started;
  return {
    result,
    ms,
    errors: (result.errors ?? []).map(describeError),
    hints: (result.hints ?? []).map(describeHint),
  };
}

// IntrospectAndCompose discards composition hints. Its one composition step is overridden
// to report errors and hints of exactly the SDLs the gateway introspected, every time it
// composes (polling included). Pinned to @apollo/gateway's version: checked at start.
class ReportingIntrospectAndCompose extends IntrospectAndCompose {
  createSupergraphFromSubgraphList(services) {
    const { result, ms, errors, hints } = compose(services);
    emit('composition', {
      ms,
      subgraphs: services.map((service) => service.name),
      errors,
      hints,
      supergraph_sha256: result.supergraphSdl ? sha256(result.supergraphSdl) : null,
    });
    if (result.errors) {
      throw new Error('composition failed:\n' +
        errors.map((error) => `\t[${error.code}] ${error.message}`).join('\n'));
    }
    return result.supergraphSdl;
  }
}
if (typeof IntrospectAndCompose.prototype.createSupergraphFromSubgraphList !== 'function') {
  fail(2, 'this @apollo/gateway has no IntrospectAndCompose.createSupergraphFromSubgraphList: ' +
    'hints cannot be captured; update gateway.mjs with the pin');
}

class SubgraphSource extends RemoteGraphQLDataSource {
  constructor(subgraph) {
    super({ url: subgraph.url });
    this.subgraph = subgraph;
  }

  // Called for introspection (LOADING_SCHEMA), health checks and operations alike.
  willSendRequest({ request, context }) {
    for (const [name, value] of Object.entries(this.subgraph.headers)) {
      request.http.headers.set(name, value);
    }
    const incoming = context?.headers ?? {};
    for (const name of this.subgraph.forward) {
      if (incoming[name] !== undefined) request.http.headers.set(name, String(incoming[name]));
    }
  }
}

const logger = Object.fromEntries(['debug', 'info', 'warn', 'error'].map(
  (level) => [level, (message) => emit('log', { level, message: String(message) })]));

async function serve(subgraphs) {
  const port = Number(options.port);
  const pollMs = options['poll-ms'] === undefined ? undefined : Number(options['poll-ms']);
  const byName = new Map(subgraphs.map((subgraph) => [subgraph.name, subgraph]));
  if (subgraphs.some((subgraph) => !subgraph.url)) fail(2, 'serve: every subgraph needs a url');
  const gateway = new ApolloGateway({
    supergraphSdl: new ReportingIntrospectAndCompose({
      subgraphs: subgraphs.map(({ name, url }) => ({ name, url })),
      pollIntervalInMs: pollMs,
      logger,
    }),
    buildService: ({ name }) => new SubgraphSource(byName.get(name)),
    logger,
  });
  gateway.onSchemaLoadOrUpdate(({ coreSupergraphSdl }) => {
    emit('schema', { supergraph_sha256: sha256(coreSupergraphSdl) });
  });
  const server = new apolloServer.ApolloServer({ gateway, logger });
  let url;
  try {
    ({ url } = await standalone.startStandaloneServer(server, {
      listen: { host: '127.0.0.1', port },
      context: async ({ req }) => ({ headers: req.headers }),
    }));
  } catch (error) {
    fail(1, error.message);
  }
  emit('listening', { url });
}

async function fetchSdl(subgraph) {
  if (subgraph.sdl) return subgraph.sdl;
  const response = await fetch(subgraph.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...subgraph.headers },
    body: JSON.stringify({ query: SERVICE_SDL }),
    signal: AbortSignal.timeout(60_000),
  });
  const body = await response.json().catch(() => null);
  const sdl = body?.data?._service?.sdl;
  if (!response.ok || typeof sdl !== 'string') {
    throw new Error(`${subgraph.name} at ${subgraph.url}: HTTP ${response.status} ` +
      JSON.stringify(body?.errors ?? body).slice(0, 500));
  }
  return sdl;
}

async function composeOnly(subgraphs) {
  const repeat = Math.max(1, Number(options.repeat));
  const started = performance.now();
  let services;
  try {
    services = await Promise.all(subgraphs.map(async (subgraph) => ({
      name: subgraph.name,
      url: subgraph.url ?? `http://${subgraph.name}.invalid/graphql`,
      typeDefs: graphql.parse(await fetchSdl(subgraph)),
    })));
  } catch (error) {
    fail(1, `introspection failed: ${error.message}`);
  }
  const fetchMs = performance.now() - started;
  const runs = Array.from({ length: repeat }, () => compose(services));
  const last = runs[runs.length - 1];
  process.stdout.write(JSON.stringify({
    supergraph_sdl: last.result.supergraphSdl ?? null,
    errors: last.errors,
    hints: last.hints,
    fetch_ms: fetchMs,
    compose_ms: runs.map((run) => run.ms),
  }) + '\n');
  process.exitCode = last.errors.length ? 1 : 0;
}

const subgraphs = readSubgraphs();
await (mode === 'serve' ? serve(subgraphs) : composeOnly(subgraphs));
