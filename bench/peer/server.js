// The peer for the side-by-side benchmark: panva's oidc-provider (v9), configured
// like IDP — RS256 JWT access tokens, rotating refresh tokens, a password sign-in
// form checked with argon2id at IDP's parameters, consent skipped for the
// first-party client.  Not a production configuration: loopback only, keys and
// users made at start-up, everything in memory.
//
// Settings come from one JSON file named by PEER_CONFIG (written by bench/setup.py):
//   { port, adminPort, users: [{username, password, sub, email, name}],
//     clients: [{client_id, client_secret, grant_types, redirect_uris}],
//     argon2: {memoryCost, timeCost, parallelism} }

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import argon2 from 'argon2';
import Provider from 'oidc-provider';
import LRU from 'oidc-provider/lib/helpers/lru.js';
import { setStorage } from 'oidc-provider/lib/adapters/memory_adapter.js';

const settings = JSON.parse(readFileSync(process.env.PEER_CONFIG, 'utf8'));
const RESOURCE = 'urn:bench:api';
const FIRST_PARTY = new Set(settings.firstParty ?? []);
const SCOPES = 'openid profile email offline_access';

// The default in-memory adapter keeps at most 1,000 entries (an LRU) and would evict
// the sessions that the memory row creates; same adapter, a larger bound.
setStorage(new LRU({ maxSize: 1_000_000 }));

const accounts = new Map();
for (const user of settings.users) {
  const hash = await argon2.hash(user.password, { type: argon2.argon2id, ...settings.argon2 });
  accounts.set(user.username, { ...user, hash });
}
const bySub = new Map([...accounts.values()].map((user) => [user.sub, user]));

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig' };

const provider = new Provider(`http://127.0.0.1:${settings.port}`, {
  clients: settings.clients.map((client) => ({
    response_types: client.grant_types.includes('authorization_code') ? ['code'] : [],
    token_endpoint_auth_method: 'client_secret_basic',
    ...client,
  })),
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: {
    openid: ['sub'],
    profile: ['name'],
    email: ['email', 'email_verified'],
  },
  scopes: SCOPES.split(' ').concat(['api']),
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    // RFC 9068-style JWT access tokens for the API resource, signed RS256 (IDP's default).
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) => oneOf
        ?? (ctx.oidc.params?.grant_type === 'client_credentials' ? RESOURCE : undefined),
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => ({
        scope: 'api openid profile email',
        audience: RESOURCE,
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    ClientCredentials: 600,
    IdToken: 600,
    RefreshToken: 2_592_000,
    Interaction: 600,
    Session: 36_000,
    Grant: 2_592_000,
  },
  rotateRefreshToken: true,
  // IDP issues a refresh token to every client allowed the grant; do the same.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  // First-party client: consent is implied, as IDP's "trusted" clients skip the page.
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    if (!FIRST_PARTY.has(ctx.oidc.client.clientId)) return undefined;
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(SCOPES);
    grant.addResourceScope(RESOURCE, 'api openid profile email');
    await grant.save();
    return grant;
  },
  findAccount: async (ctx, sub) => {
    const user = bySub.get(sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      claims: async () => ({
        sub, name: user.name, email: user.email, email_verified: true,
      }),
    };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError: async (ctx, out) => {
    ctx.type = 'json';
    ctx.body = out;
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));

const escape = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid, message = '') {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body><main><h1>Sign in</h1>${message ? `<p role="alert">${escape(message)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form></main></body></html>`;
}

async function readForm(req, limit = 16_384) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > limit) throw new Error('body too large');
  }
  return new URLSearchParams(body);
}

function send(res, status, body, type = 'text/html; charset=utf-8') {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

// The interaction handler: a password check, then back to the provider.
async function interaction(req, res, path) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') return send(res, 200, loginPage(details.uid));
  if (req.method !== 'POST' || !path.endsWith('/login')) return send(res, 405, 'method not allowed');
  const form = await readForm(req);
  const user = accounts.get(form.get('username') ?? '');
  const ok = user ? await argon2.verify(user.hash, form.get('password') ?? '') : false;
  if (!ok) return send(res, 200, loginPage(details.uid, 'Wrong username or password.'));
  const result = { login: { accountId: user.sub, amr: ['pwd'], acr: 'urn:idp:acr:pwd' } };
  return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
createServer((req, res) => {
  const path = new URL(req.url, 'http://127.0.0.1').pathname;
  if (!path.startsWith('/interaction/')) return callback(req, res);
  return interaction(req, res, path).catch((err) => {
    console.error('interaction', err.message);
    if (!res.headersSent) send(res, 400, 'bad interaction');
  });
}).listen(settings.port, '127.0.0.1', () => console.log(`peer listening on ${settings.port}`));

// Admin hook for the memory row, on its own loopback port: POST /sessions?count=N
// saves N sessions through the provider's Session model (and so through its adapter).
async function makeSessions(count) {
  const user = [...accounts.values()][0];
  const now = Math.floor(Date.now() / 1000);
  for (let i = 0; i < count; i += 1) {
    const session = new provider.Session({ accountId: user.sub, loginTs: now, acr: 'urn:idp:acr:pwd', amr: ['pwd'] });
    session.authorizations = { [settings.clients[0].client_id]: { sid: randomBytes(16).toString('base64url'), grantId: undefined } };
    await session.save(36_000);
  }
}

createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (req.method !== 'POST' || url.pathname !== '/sessions') return send(res, 404, 'not found');
  const count = Math.min(Number(url.searchParams.get('count') || 0), 1_000_000);
  const started = Date.now();
  return makeSessions(count).then(() => {
    if (global.gc) global.gc();
    send(res, 200, JSON.stringify({ created: count, ms: Date.now() - started }), 'application/json');
  }, (err) => send(res, 500, err.message));
}).listen(settings.adminPort, '127.0.0.1');
