#!/usr/bin/env node
// Demo "etl" MCP server: start workflows, watch jobs, read their logs. Jobs live in this process's memory
// and advance with wall-clock time (no timers), so each replica has its own jobs.
// Run: node examples/servers/etl.mjs            (stdio)
//      node examples/servers/etl.mjs --http [--port N]

import { z } from 'zod';
import { createMcpServer, isMain, jsonResult, run, toolError } from './lib/serve.mjs';

const WORKFLOWS = {
  daily_sales_rollup: ['extract orders', 'extract order_items', 'aggregate by region', 'load sales_daily'],
  customer_sync: ['extract CRM contacts', 'deduplicate', 'load customers'],
  inventory_snapshot: ['extract stock levels', 'load inventory_snapshot'],
};
const STEP_MS = 300;
const MAX_JOBS = 1000;

/** @type {Map<string, {id: string, workflow: string, params: object, startedAt: number}>} */
const jobs = new Map();
let nextJob = 1;

/** A job's state derived from how long it has been running. */
function view(job, now = Date.now()) {
  const steps = WORKFLOWS[job.workflow];
  const done = Math.min(steps.length, Math.floor((now - job.startedAt) / STEP_MS));
  const status = done >= steps.length ? 'succeeded' : 'running';
  const logs = [`${new Date(job.startedAt).toISOString()} INFO job ${job.id} started: ${job.workflow}`];
  for (let i = 0; i < done; i++) {
    const at = new Date(job.startedAt + (i + 1) * STEP_MS).toISOString();
    logs.push(`${at} INFO step ${i + 1}/${steps.length} finished: ${steps[i]}`);
  }
  if (status === 'running')
    logs.push(`${new Date(now).toISOString()} INFO step ${done + 1}/${steps.length} running: ${steps[done]}`);
  else
    logs.push(
      `${new Date(job.startedAt + steps.length * STEP_MS).toISOString()} INFO job ${job.id} succeeded`,
    );
  return {
    job: {
      job_id: job.id,
      workflow: job.workflow,
      params: job.params,
      status,
      progress: Math.round((done / steps.length) * 100),
      current_step: status === 'running' ? steps[done] : null,
      started_at: new Date(job.startedAt).toISOString(),
      finished_at:
        status === 'succeeded' ? new Date(job.startedAt + steps.length * STEP_MS).toISOString() : null,
    },
    logs,
  };
}

function unknownJob(id) {
  return toolError(`Unknown job "${id}". Start one with start_workflow.`);
}

export function createServer() {
  const server = createMcpServer({ name: 'etl', version: '1.0.0' });

  server.registerTool(
    'start_workflow',
    {
      title: 'Start workflow',
      description: `Start an ETL workflow (${Object.keys(WORKFLOWS).join(', ')}). Returns the job id.`,
      inputSchema: {
        workflow: z.string().describe('Workflow name'),
        params: z
          .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
          .optional()
          .describe('Workflow parameters, e.g. {"date": "2026-11-23"}'),
      },
      annotations: { idempotentHint: false },
    },
    async ({ workflow, params }) => {
      if (!(workflow in WORKFLOWS))
        return toolError(
          `Unknown workflow "${workflow}". Known workflows: ${Object.keys(WORKFLOWS).join(', ')}.`,
        );
      if (jobs.size >= MAX_JOBS) jobs.delete(jobs.keys().next().value); // oldest first: bounded memory
      const id = `job-${String(nextJob++).padStart(4, '0')}`;
      jobs.set(id, { id, workflow, params: params ?? {}, startedAt: Date.now() });
      return jsonResult({ job_id: id, workflow, status: 'running' });
    },
  );

  server.registerTool(
    'monitor_job',
    {
      title: 'Monitor job',
      description: 'Status and progress of a job.',
      inputSchema: { job_id: z.string().describe('Job id from start_workflow') },
      annotations: { readOnlyHint: true, idempotentHint: true },
    },
    async ({ job_id }) => {
      const job = jobs.get(job_id);
      return job ? jsonResult(view(job).job) : unknownJob(job_id);
    },
  );

  server.registerTool(
    'get_logs',
    {
      title: 'Job logs',
      description: 'Log lines of a job, optionally only the last `tail` lines.',
      inputSchema: {
        job_id: z.string().describe('Job id from start_workflow'),
        tail: z.number().int().min(1).max(1000).optional().describe('Only the last N lines'),
      },
      annotations: { readOnlyHint: true, idempotentHint: true },
    },
    async ({ job_id, tail }) => {
      const job = jobs.get(job_id);
      if (!job) return unknownJob(job_id);
      const { logs } = view(job);
      const lines = tail ? logs.slice(-tail) : logs;
      return { content: [{ type: 'text', text: lines.join('\n') }] };
    },
  );

  return server;
}

if (isMain(import.meta.url)) await run(createServer);
