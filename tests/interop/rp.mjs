// An independent relying party (openid-client v6) against a live provider.
// Usage: node rp.mjs   with IDP_ISSUER, RP_CLIENT_ID, RP_CLIENT_SECRET, RP_REDIRECT_URI,
// SSO_COOKIE (name=value of a live SSO session). Prints one JSON object; exits 1 on failure.
import * as client from "openid-client";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

async function main() {
  const issuer = new URL(env("IDP_ISSUER"));
  const redirectUri = env("RP_REDIRECT_URI");
  const config = await client.discovery(
    issuer, env("RP_CLIENT_ID"), undefined, client.ClientSecretBasic(env("RP_CLIENT_SECRET")),
    { execute: [client.allowInsecureRequests] }, // a loopback http issuer in tests
  );

  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: "openid profile email offline_access roles",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
  });

  // The browser: follow /authorize with the SSO cookie, stop at the redirect to the RP.
  const answer = await fetch(url, { redirect: "manual", headers: { cookie: env("SSO_COOKIE") } });
  const location = answer.headers.get("location");
  if (answer.status !== 302 || !location || !location.startsWith(redirectUri)) {
    throw new Error(`authorization did not redirect to the client: ${answer.status} ${location}`);
  }

  // Checks iss (RFC 9207), state, the code exchange, and the ID token (signature, nonce, aud...).
  const tokens = await client.authorizationCodeGrant(config, new URL(location), {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
  });
  const claims = tokens.claims();
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  const userinfo = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);

  console.log(JSON.stringify({
    ok: true,
    sub: claims.sub,
    nonce: claims.nonce,
    sid: claims.sid,
    scope: tokens.scope,
    refreshed: refreshed.refresh_token !== tokens.refresh_token,
    refreshed_id_token_sub: refreshed.claims()?.sub,
    userinfo,
  }));
}

main().catch((error) => {
  console.log(JSON.stringify({ ok: false, error: String(error), cause: String(error.cause ?? "") }));
  process.exit(1);
});
