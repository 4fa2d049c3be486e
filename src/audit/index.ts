export { canonicalJson } from './canonical.ts';
export type { AuditEvent, PreparedEvent } from './event.ts';
export { AuditLog, type AuditLogOptions, type AuditStats } from './log.ts';
export {
  type AuditFilters,
  type AuditPage,
  type ExportFormat,
  exportEvents,
  exportLines,
  listEvents,
  parseFilters,
} from './query.ts';
export { isSecretName, REDACTED, redactArguments, redactValue, scrubString } from './redact.ts';
export { pruneBefore } from './retention.ts';
export { type AuditRoutesOptions, auditRoutes } from './routes.ts';
export type { AuditInput, AuditOutcome, AuditSink } from './types.ts';
export { type TamperKind, type VerifyProblem, type VerifyResult, verifyChain } from './verify.ts';
