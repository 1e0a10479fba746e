// panva's oidc-provider (OpenID certified, a provider we did not write) as the OP of the
// client adapter's interoperability tests. Loopback only, keys and users made at start-up,
// everything in memory.
//
// Settings: one JSON object in the environment variable NODE_OP_CONFIG:
//   { trailingSlash: bool,            // issuer "http://127.0.0.1:<port>/" (as Auth0's are)
//     user: {sub, username, password, name, email, groups, department},
//     clients: [{client_id, client_secret, redirect_uris, post_logout_redirect_uris,
//                backchannel_logout_uri?, backchannel_logout_session_required?,
//                userinfo_signed_response_alg?, access_token_ttl?}] }
// Listens on a free port and prints one JSON line: {"issuer": "..."}.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const settings = JSON.parse(process.env.NODE_OP_CONFIG);
const { user } = settings;
const ttlByClient = new Map(settings.clients.map((c) => [c.client_id, c.access_token_ttl ?? 600]));

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: 'node-op-1' };

const escape = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 16_384) throw new Error('body too large');
  }
  return new URLSearchParams(body);
}

function page(uid, kind, message = '') {
  const fields = kind === 'login'
    ? '<input name="username"><input type="password" name="password">'
    : '';
  return `<!doctype html><title>${kind}</title>${message ? `<p role="alert">${escape(message)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/${kind}">${fields}<button>${kind}</button></form>`;
}

function buildProvider(issuer) {
  const clients = settings.clients.map(({ access_token_ttl: _ttl, ...client }) => ({
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...client,
  }));
  const provider = new Provider(issuer, {
    clients,
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    // Standard scopes plus "groups": nothing named "roles" or "department" (our provider's).
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username', 'department'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true },
      backchannelLogout: { enabled: true },
      jwtUserinfo: { enabled: true },
      userinfo: { enabled: true },
      revocation: { enabled: true },
    },
    ttl: {
      AccessToken: (ctx, token, client) => ttlByClient.get(client?.clientId ?? token.clientId) ?? 600,
      AuthorizationCode: 60,
      IdToken: 600,
      RefreshToken: 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    rotateRefreshToken: true,
    // oidc-provider refuses outgoing calls to special-use addresses (SSRF protection); the
    // test apps' back-channel logout endpoints are on loopback, so allow them here, and
    // only here: keep its dispatcher everywhere else.
    fetch: (url, options) => {
      const { dispatcher: _ssrfGuard, ...rest } = options;
      if (new URL(url).hostname !== '127.0.0.1') return globalThis.fetch(url, options);
      return globalThis.fetch(url, rest);
    },
    clockTolerance: 0, // an expired access token is refused at once (the refresh test waits for it)
    findAccount: async (ctx, sub) => (sub !== user.sub ? undefined : {
      accountId: sub,
      claims: async () => ({
        sub,
        name: user.name,
        preferred_username: user.username,
        email: user.email,
        email_verified: true,
        department: user.department,
        groups: user.groups,
      }),
    }),
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError: async (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  });
  provider.proxy = false;
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  provider.on('backchannel.error', (ctx, err) => console.error('backchannel.error', err.message));
  return provider;
}

// The interaction: a password form, then a consent form that grants what is missing.
async function interaction(provider, req, res, path) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params, session } = details;
  if (req.method === 'GET') return send(res, 200, page(uid, prompt.name === 'login' ? 'login' : 'consent'));
  const form = await readForm(req);
  if (path.endsWith('/login')) {
    if (form.get('username') !== user.username || form.get('password') !== user.password) {
      return send(res, 200, page(uid, 'login', 'Wrong username or password.'));
    }
    return provider.interactionFinished(req, res, { login: { accountId: user.sub } },
      { mergeWithLastSubmission: false });
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

let callback;
let provider;
const server = createServer((req, res) => {
  const path = new URL(req.url, 'http://127.0.0.1').pathname;
  if (!path.startsWith('/interaction/')) return callback(req, res);
  return interaction(provider, req, res, path).catch((err) => {
    console.error('interaction', err.message);
    if (!res.headersSent) send(res, 400, 'bad interaction');
  });
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}${settings.trailingSlash ? '/' : ''}`;
  provider = buildProvider(issuer);
  callback = provider.callback();
  console.log(JSON.stringify({ issuer }));
});
