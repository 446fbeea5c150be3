// A real, certified OpenID Connect provider (panva's oidc-provider) on loopback, for
// Deskgate's end-to-end tests and the local demo. NOT for production: accounts, clients
// and keys live in memory, and the login page is oidc-provider's development screen.
//
//   node tests/oidc/provider.mjs config.json        (or OIDC_PROVIDER_CONFIG=config.json)
//
// config.json:
//   {
//     "port": 9000,                      // 0: any free port (the READY line says which)
//     "host": "127.0.0.1",               // optional; the issuer is http://<host>:<port>
//     "clients": [{
//       "client_id": "deskgate-test",
//       "client_secret": "test-secret-0123456789",
//       "redirect_uris": ["http://localhost/signin/sso/callback/"],
//       "application_type": "native",    // optional: loopback redirect URIs match any port
//       "token_endpoint_auth_method": "client_secret_basic"   // or client_secret_post
//     }],                                // any other client metadata is passed through
//     "accounts": [{
//       "sub": "anna-0001", "login": "anna",
//       "claims": {"email": "anna@northwind.example", "email_verified": true,
//                  "name": "Anna", "amr": ["pwd", "mfa"], "acr": "urn:example:loa:2"}
//     }],
//     "conform_id_token_claims": true    // optional, the default: the ID token carries only
//                                        // the openid scope's claims, the rest is at
//                                        // userinfo; false: all of them in the ID token
//   }
//
// The browser signs in on the development login page by typing an account's login (or its
// sub) and any non-empty password; there is no consent page (see loadExistingGrant). An
// unknown login ends the sign-in with error=access_denied at the client's redirect_uri.
//
// Prints "READY <issuer>" on stdout once it listens; errors go to stderr. SIGTERM or SIGINT
// stops it (exit 0); with OIDC_PROVIDER_EXIT_WITH_PARENT=1, so does its parent's exit.

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import process from 'node:process';

import Provider, { interactionPolicy } from 'oidc-provider';

function fail(message) {
  process.stderr.write(`oidc-provider: ${message}\n`);
  process.exit(1);
}

const configPath = process.argv[2] || process.env.OIDC_PROVIDER_CONFIG;
if (!configPath) {
  fail('usage: node provider.mjs <config.json>   (or set OIDC_PROVIDER_CONFIG)');
}

let config;
try {
  config = JSON.parse(readFileSync(configPath, 'utf8'));
} catch (error) {
  fail(`cannot read the configuration ${configPath}: ${error.message}`);
}

const host = config.host ?? '127.0.0.1';
const port = Number(config.port ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  fail(`"port" must be an integer from 0 to 65535, not ${JSON.stringify(config.port)}`);
}

// --- Accounts ---------------------------------------------------------------------------

const accountsByKey = new Map(); // login and sub -> account
for (const [i, entry] of (config.accounts ?? []).entries()) {
  const sub = String(entry.sub ?? entry.login ?? '');
  if (!sub) {
    fail(`accounts[${i}] needs a "sub" or a "login"`);
  }
  const account = {
    sub,
    login: String(entry.login ?? sub),
    claims: { ...(entry.claims ?? {}) },
  };
  for (const key of new Set([account.login, account.sub])) {
    if (accountsByKey.has(key)) {
      fail(`accounts[${i}]: login or sub ${JSON.stringify(key)} is used twice`);
    }
    accountsByKey.set(key, account);
  }
}

// What the dev login form sends is a login, or a sub; logins may be typed in any case.
function lookUp(typed) {
  if (typeof typed !== 'string') return undefined;
  const key = typed.trim();
  return accountsByKey.get(key) ?? accountsByKey.get(key.toLowerCase());
}

// acr values the accounts use are advertised (acr_values_supported) and put in ID tokens.
const acrValues = [...new Set(
  [...accountsByKey.values()].map((a) => a.claims.acr).filter((v) => typeof v === 'string'),
)];

// --- Clients ----------------------------------------------------------------------------

const clients = (config.clients ?? []).map((entry, i) => {
  if (!entry.client_id) fail(`clients[${i}] needs a "client_id"`);
  if (!Array.isArray(entry.redirect_uris) || !entry.redirect_uris.length) {
    fail(`clients[${i}] needs "redirect_uris"`);
  }
  return {
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
    ...entry,
  };
});

// --- Signing key: a new RSA key at every start ------------------------------------------

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: randomUUID(),
  alg: 'RS256',
  use: 'sig',
};

// --- The provider -----------------------------------------------------------------------

// The development login form only says which login was typed. A real login step would also
// say how the person signed in (amr, acr); this adds them from the account, through the
// supported interaction result (`login: {accountId, amr, acr}`), so the ID token carries them.
class TestProvider extends Provider {
  async interactionResult(req, res, result, options) {
    if (result?.login) {
      const account = lookUp(result.login.accountId);
      if (!account) {
        const typed = String(result.login.accountId).slice(0, 100);
        process.stderr.write(`oidc-provider: no account with login ${JSON.stringify(typed)}\n`);
        result = {
          error: 'access_denied',
          error_description: `no account with login ${typed} on this test provider`,
        };
      } else {
        const { amr, acr } = account.claims;
        result = {
          ...result,
          login: {
            ...result.login,
            accountId: account.sub,
            ...(Array.isArray(amr) ? { amr: amr.map(String) } : {}),
            ...(typeof acr === 'string' ? { acr } : {}),
          },
        };
      }
    }
    return super.interactionResult(req, res, result, options);
  }
}

// Scopes -> claims. amr and acr come from the sign-in (see above), not from a scope, and
// are listed under openid so that every ID token carries them when the sign-in set them.
const CLAIMS = {
  openid: ['sub', 'acr', 'amr', 'auth_time'],
  email: ['email', 'email_verified'],
  profile: [
    'name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username',
    'picture', 'locale', 'zoneinfo', 'updated_at',
  ],
};
const SESSION_CLAIMS = new Set(['sub', 'acr', 'amr', 'auth_time']);

// The test clients are registered as native applications, the only kind for which
// oidc-provider (as RFC 8252 7.3 asks) accepts a loopback redirect URI on any port: the
// Django live server's port is known only when the tests run. For native clients the
// default policy also asks for consent at every sign-in (the check "native_client_prompt");
// these clients are first-party, so that check goes and the login form is the only page.
function interactionsPolicy() {
  const policy = interactionPolicy.base();
  policy.get('consent').checks.remove('native_client_prompt');
  return policy;
}

function configuration() {
  return {
    interactions: { policy: interactionsPolicy() },
    clients,
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    acrValues,
    claims: CLAIMS,
    responseTypes: ['code'],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    // PKCE for every authorization request; oidc-provider 9 only knows S256.
    pkce: { required: () => true },
    // By default oidc-provider (like Okta) puts only the openid scope's claims in the ID
    // token when an access token for userinfo is issued too: email and name are then at
    // the userinfo endpoint (OpenID Connect Core 5.4). Entra ID and Google put them in the
    // ID token; "conform_id_token_claims": false makes this provider do the same.
    conformIdTokenClaims: config.conform_id_token_claims !== false,
    features: {
      devInteractions: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    async findAccount(_ctx, id) {
      const account = lookUp(id);
      if (!account) return undefined;
      return {
        accountId: account.sub,
        // Everything the account has; oidc-provider keeps only what the scopes and the
        // claims parameter ask for (email scope: email, email_verified; profile: name...).
        async claims() {
          const claims = { sub: account.sub };
          for (const [key, value] of Object.entries(account.claims)) {
            if (!SESSION_CLAIMS.has(key)) claims[key] = value;
          }
          return claims;
        },
      };
    },
    // No consent page: every client here is first-party, so the grant is given at once for
    // the scopes and claims the client asked for (the documented way to skip consent).
    async loadExistingGrant(ctx) {
      const { oidc } = ctx;
      const { Grant } = oidc.provider;
      const accountId = oidc.session.accountId;
      const clientId = oidc.client.clientId;
      const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(clientId);
      let grant = grantId ? await Grant.find(grantId) : undefined;
      if (!grant || grant.accountId !== accountId) {
        grant = new Grant({ accountId, clientId });
      }
      const scopes = [...oidc.requestParamOIDCScopes];
      if (scopes.length) grant.addOIDCScope(scopes.join(' '));
      const claims = [...oidc.requestParamClaims];
      if (claims.length) grant.addOIDCClaims(claims);
      await grant.save();
      return grant;
    },
  };
}

// --- Start ------------------------------------------------------------------------------

const server = createServer();
server.on('error', (error) => fail(`cannot listen on ${host}:${port}: ${error.message}`));
await new Promise((resolve) => { server.listen(port, host, resolve); });

// With port 0 the issuer is known only now, so the provider is made after listening.
const issuer = `http://${host}:${server.address().port}`;
let provider;
try {
  provider = new TestProvider(issuer, configuration());
} catch (error) {
  fail(`bad configuration: ${error.message}`);
}

// Its pages (login, logout, errors) @import a web font from the internet: there is no
// internet here, and a browser in the tests must not try. Strip it, and let pages load
// nothing from elsewhere (a page that sets its own CSP keeps it).
provider.use(async (ctx, next) => {
  await next();
  if (typeof ctx.body === 'string' && ctx.response.is('html')) {
    ctx.body = ctx.body.replace(/@import url\(https?:[^)]*\);?/g, '');
    if (!ctx.response.get('Content-Security-Policy')) {
      ctx.set(
        'Content-Security-Policy',
        "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; img-src 'self' data:",
      );
    }
  }
});

// What went wrong goes to stderr, for the harness to show when a test fails.
for (const event of [
  'server_error', 'authorization.error', 'grant.error', 'userinfo.error',
  'end_session.error', 'introspection.error', 'revocation.error', 'jwks.error',
  'discovery.error', 'check_session.error', 'backchannel.error',
]) {
  provider.on(event, (...args) => {
    const error = args.find((a) => a instanceof Error);
    const detail = error
      ? `${error.name}: ${error.message}${error.error_description ? ` (${error.error_description})` : ''}`
      : '';
    process.stderr.write(`oidc-provider: ${event} ${detail}\n`);
    if (event === 'server_error' && error?.stack) process.stderr.write(`${error.stack}\n`);
  });
}

server.on('request', provider.callback());

function stop(signal) {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
  process.stderr.write(`oidc-provider: stopping on ${signal}\n`);
}
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));

// Started by the Python harness: if the test run is killed before it can stop this
// process, this process notices it has a new parent and stops too (no orphan is left).
if (process.env.OIDC_PROVIDER_EXIT_WITH_PARENT === '1') {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop('parent exit');
  }, 500).unref();
}

process.stdout.write(`READY ${issuer}\n`);
