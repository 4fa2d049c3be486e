/**
 * The sign-in and signing-key routes (routes.ts) as the OpenAPI document describes them. The admin
 * plugin writes the document; test/e2e/admin-openapi.test.ts checks that these are exactly the
 * /api/v1 routes authRoutes registers.
 */
import { type ApiSection, type JsonSchema, pathParam, type RouteDoc, ref } from '../admin/route-table.ts';

const errorOf = (description: string) => ({ description, schema: ref('Error') });

const schemas: Record<string, JsonSchema> = {
  TokenPair: {
    type: 'object',
    required: ['access_token', 'refresh_token', 'token_type', 'expires_in'],
    properties: {
      access_token: { type: 'string', description: 'A signed JWT (EdDSA) for `Authorization: Bearer`' },
      refresh_token: { type: 'string', description: 'Opaque, single use: each refresh returns a new one' },
      token_type: { const: 'Bearer' },
      expires_in: { type: 'integer', description: 'Seconds until the access token expires' },
    },
  },
  Me: {
    type: 'object',
    required: ['id', 'roles', 'method'],
    properties: {
      id: { type: 'string', description: '`user:<uuid>` or `idp:<provider>:<sub>`' },
      user_id: { type: ['string', 'null'] },
      email: { type: ['string', 'null'] },
      roles: { type: 'array', items: { type: 'string' } },
      method: { enum: ['jwt', 'api_key', 'idp', 'none'] },
      key_id: { type: ['string', 'null'] },
      scopes: { description: 'The rules an API key is narrowed to, or null' },
    },
  },
  SigningKeys: {
    type: 'object',
    required: ['items', 'active'],
    properties: {
      active: { type: 'string', description: 'The kid new tokens are signed with' },
      items: {
        type: 'array',
        items: {
          type: 'object',
          required: ['kid', 'alg', 'state'],
          properties: {
            kid: { type: 'string' },
            alg: { type: 'string' },
            state: { enum: ['active', 'retired', 'disabled'] },
            createdAt: { type: 'string', format: 'date-time' },
            retiredAt: { type: ['string', 'null'], format: 'date-time' },
          },
        },
      },
    },
  },
};

const signingKeys = { 200: { description: 'The signing keys', schema: ref('SigningKeys') } };

const routes: RouteDoc[] = [
  {
    method: 'POST',
    url: '/api/v1/auth/login',
    operationId: 'login',
    summary: 'Email and password for an access token and a refresh token',
    tag: 'auth',
    access: 'public',
    body: {
      type: 'object',
      required: ['email', 'password'],
      properties: { email: { type: 'string' }, password: { type: 'string' } },
    },
    responses: {
      200: { description: 'Signed in', schema: ref('TokenPair') },
      401: errorOf('Wrong email or password, or a disabled account (not told apart)'),
      429: errorOf('Too many failed attempts for this account or address (see Retry-After)'),
    },
  },
  {
    method: 'POST',
    url: '/api/v1/auth/refresh',
    operationId: 'refreshToken',
    summary: 'A refresh token for a new pair; reusing a spent one ends the whole session',
    tag: 'auth',
    access: 'public',
    body: {
      type: 'object',
      required: ['refresh_token'],
      properties: { refresh_token: { type: 'string' } },
    },
    responses: {
      200: { description: 'A new pair', schema: ref('TokenPair') },
      401: errorOf('Unknown, expired, revoked or already used refresh token'),
    },
  },
  {
    method: 'POST',
    url: '/api/v1/auth/logout',
    operationId: 'logout',
    summary: 'Ends the session of the bearer token or of the refresh token; `all` ends every session',
    tag: 'auth',
    access: 'public',
    body: {
      type: 'object',
      properties: { refresh_token: { type: 'string' }, all: { type: 'boolean', default: false } },
    },
    responses: {
      204: { description: 'Signed out' },
      401: errorOf('Neither a valid bearer token nor a refresh token of the caller'),
    },
  },
  {
    method: 'GET',
    url: '/api/v1/auth/me',
    operationId: 'whoAmI',
    summary: 'The caller as the hub sees it: identity, roles, how it signed in',
    tag: 'auth',
    access: 'user',
    responses: { 200: { description: 'The caller', schema: ref('Me') } },
  },
  {
    method: 'GET',
    url: '/api/v1/auth/signing-keys',
    operationId: 'listSigningKeys',
    summary: 'The keys that sign and verify hub tokens (public parts only)',
    tag: 'auth',
    access: 'admin',
    responses: signingKeys,
  },
  {
    method: 'POST',
    url: '/api/v1/auth/signing-keys/rotate',
    operationId: 'rotateSigningKey',
    summary: 'A new active key; the previous one is retired (verifies, no longer signs)',
    tag: 'auth',
    access: 'admin',
    responses: signingKeys,
  },
  {
    method: 'POST',
    url: '/api/v1/auth/signing-keys/:kid/:state',
    operationId: 'setSigningKeyState',
    summary:
      '`retire` (stops signing) or `disable` (its tokens no longer verify) a key other than the active one',
    tag: 'auth',
    access: 'admin',
    parameters: [
      pathParam('kid', 'Key id'),
      { ...pathParam('state', 'What to do'), schema: { enum: ['retire', 'disable'] } },
    ],
    responses: signingKeys,
  },
];

export const authApi: ApiSection = { routes, schemas };
