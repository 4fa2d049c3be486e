export type {
  AccessRequest,
  CompiledPolicy,
  Decision,
  ExplainedRule,
  Explanation,
  RequestKind,
  Subject,
} from './engine.ts';
export { canSee, compilePolicy, decide, explain, visibleNames } from './engine.ts';
export { compileGlobs, type Matcher, wildcardMatch } from './glob.ts';
