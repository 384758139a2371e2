// A real OpenID Connect provider for the station's tests: panva's oidc-provider
// shaped like Pro Santé Connect (scope "scope_all", the RPPS in the
// "SubjectNameID" claim as "8" + RPPS, professional data in "SubjectRefPro").
//
//   node server.js --redirect-uri http://127.0.0.1:PORT/oidc/callback
//
// Listens on 127.0.0.1 (an ephemeral port unless --port), then prints one JSON
// line on stdout: {"issuer": "...", "clients": {...}}. Interactions (login and
// consent) are oidc-provider's devInteractions: any password, the login names
// one of the test accounts below; "[ Cancel ]" aborts (error=access_denied).
import http from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    'redirect-uri': { type: 'string', multiple: true, default: [] },
    port: { type: 'string', default: '0' },
  },
});

// Account id = subject (typed at the login prompt, PSC's shape) -> claims. RPPS 10000000009 and
// 10000000108 pass the Luhn check; 10000000001 does not.
const ACCOUNTS = {
  'f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:810000000009': {
    given_name: 'Claire',
    family_name: 'MARTIN',
    preferred_username: '810000000009',
    SubjectNameID: '810000000009',
    SubjectRefPro: {
      codeCivilite: 'DR',
      exercices: [{ codeProfession: '10', codeCategorieProfessionnelle: 'C', nomDexercice: 'MARTIN', prenomDexercice: 'Claire' }],
    },
  },
  'f:0b8c2bd9-1d1f-4f0e-9a43-5f2a8f0c6a11:sans-rpps': {
    given_name: 'Paul',
    family_name: 'DURAND',
  },
  'f:7d1e3c52-34a2-4d55-8d3f-95d9f1d0a7aa:810000000001': {
    given_name: 'Luc',
    family_name: 'BERNARD',
    SubjectNameID: '810000000001',
  },
};

const CLIENTS = [
  { client_id: 'station-test', client_secret: 'station-test-secret-0123456789abcdef' },
  { client_id: 'other-app', client_secret: 'other-app-secret-0123456789abcdef' },
];

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(args.port), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: CLIENTS.map((c) => ({
    ...c,
    redirect_uris: args['redirect-uri'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  })),
  jwks: { keys: [jwk] },
  cookies: { keys: ['oidc-test-cookie-key-0123456789'] },
  scopes: ['openid', 'scope_all', 'profile'],
  claims: {
    openid: ['sub'],
    profile: ['given_name', 'family_name', 'preferred_username'],
    scope_all: ['given_name', 'family_name', 'preferred_username', 'SubjectNameID', 'SubjectRefPro'],
  },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const claims = ACCOUNTS[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));
server.on('request', provider.callback());

process.stdout.write(`${JSON.stringify({ issuer, clients: CLIENTS })}\n`);
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
