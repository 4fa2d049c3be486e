export {
  type AccessCheckInput,
  type AccessCheckResult,
  accessCheckSchema,
  checkAccess,
} from './access-check.ts';
export { type Actor, actorFromPrincipal, cliActor, Topics } from './changes.ts';
export { buildOpenApiDocument } from './openapi.ts';
export { type AdminRoutesOptions, adminRoutes, adminRouteTable } from './plugin.ts';
export { RoleService, roleView } from './role-service.ts';
export { type ApiKeyManager, apiKeyView } from './routes/keys.ts';
export { REDACTED, redactServerConfig, ServerService, serverView } from './server-service.ts';
export { UserService, userView } from './user-service.ts';
