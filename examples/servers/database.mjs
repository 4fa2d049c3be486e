#!/usr/bin/env node
// Demo "database" MCP server: SQL analysis tools over three fake databases. Every tool names its target in
// a `database` argument, which the hub's `resource_argument` uses for per-database policy (dev_* vs prod_db).
// Run: node examples/servers/database.mjs            (stdio)
//      node examples/servers/database.mjs --http [--port N]

import { ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import {
  createMcpServer,
  hash32,
  isMain,
  jsonResult,
  logMessage,
  reportProgress,
  run,
  sleep,
  toolError,
} from './lib/serve.mjs';

/** The fake catalogue: table → { rows, columns }. */
const DATABASES = {
  dev_db: {
    description: 'Development database (synthetic data, safe to experiment with)',
    tables: {
      customers: { rows: 1_200, columns: ['id', 'name', 'email', 'region', 'created_at'] },
      orders: { rows: 8_400, columns: ['id', 'customer_id', 'total', 'status', 'ordered_at'] },
      products: { rows: 350, columns: ['id', 'sku', 'name', 'price'] },
    },
  },
  staging_db: {
    description: 'Staging database (anonymised copy of production, refreshed nightly)',
    tables: {
      customers: { rows: 240_000, columns: ['id', 'name', 'email', 'region', 'created_at'] },
      orders: { rows: 1_900_000, columns: ['id', 'customer_id', 'total', 'status', 'ordered_at'] },
      products: { rows: 4_100, columns: ['id', 'sku', 'name', 'price'] },
      order_items: { rows: 5_600_000, columns: ['order_id', 'product_id', 'quantity', 'unit_price'] },
    },
  },
  prod_db: {
    description: 'Production database (live customer data)',
    tables: {
      customers: { rows: 2_450_000, columns: ['id', 'name', 'email', 'region', 'created_at'] },
      orders: { rows: 18_700_000, columns: ['id', 'customer_id', 'total', 'status', 'ordered_at'] },
      products: { rows: 4_100, columns: ['id', 'sku', 'name', 'price'] },
      order_items: { rows: 56_000_000, columns: ['order_id', 'product_id', 'quantity', 'unit_price'] },
      payments: { rows: 17_900_000, columns: ['id', 'order_id', 'amount', 'card_last4', 'paid_at'] },
    },
  },
};
const DATABASE_NAMES = Object.keys(DATABASES);

/** Who may do what where (check_access). Unknown users get nothing. */
const ACCESS = {
  'john@company.com': { dev_db: ['read', 'write'], staging_db: ['read'], prod_db: [] },
  'ana@company.com': { dev_db: ['read'], staging_db: ['read'], prod_db: ['read'] },
  'carl@company.com': { dev_db: [], staging_db: [], prod_db: [] },
  'admin@company.com': {
    dev_db: ['read', 'write', 'admin'],
    staging_db: ['read', 'write', 'admin'],
    prod_db: ['read', 'write', 'admin'],
  },
};

const databaseArg = z.string().describe(`Target database: one of ${DATABASE_NAMES.join(', ')}`);

function unknownDatabase(name) {
  return toolError(`Unknown database "${name}". Known databases: ${DATABASE_NAMES.join(', ')}.`);
}

const STATEMENT_TYPES = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'MERGE',
  'CREATE',
  'ALTER',
  'DROP',
  'TRUNCATE',
];

/** Deterministic, plausible-looking analysis of one statement. Not a parser: a demo. */
function analyze(database, sql) {
  const db = DATABASES[database];
  const text = sql
    .replace(/--[^\n]*/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const upper = text.toUpperCase();
  const first = upper.split(/[\s(]/, 1)[0] ?? '';
  const statementType =
    first === 'WITH'
      ? (STATEMENT_TYPES.find((t) => new RegExp(`\\)\\s*${t}\\b`).test(upper)) ?? 'SELECT')
      : (STATEMENT_TYPES.find((t) => t === first) ?? 'UNKNOWN');
  const tables = [];
  for (const m of text.matchAll(/\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+([A-Za-z_][\w.]*)/gi)) {
    const name = m[1].toLowerCase().split('.').pop();
    if (!tables.includes(name)) tables.push(name);
  }
  const unknownTables = tables.filter((t) => !(t in db.tables));
  const rowsScanned = tables.reduce((sum, t) => sum + (db.tables[t]?.rows ?? 1_000), 0);
  const hasWhere = /\bWHERE\b/.test(upper);
  const selectivity = hasWhere ? 0.02 + (hash32(text) % 100) / 1_000 : 1;
  const joins = (upper.match(/\bJOIN\b/g) ?? []).length;
  const estimatedRows = Math.max(1, Math.round(rowsScanned * selectivity));
  const cost = Math.round((rowsScanned * selectivity * 0.01 + joins * 125 + 4.2) * 100) / 100;
  const warnings = [];
  if (/\bSELECT\s+\*/.test(upper)) warnings.push('SELECT * reads every column; list the columns you need');
  if ((statementType === 'UPDATE' || statementType === 'DELETE') && !hasWhere)
    warnings.push(`${statementType} without WHERE touches every row`);
  if (['DROP', 'TRUNCATE', 'ALTER'].includes(statementType))
    warnings.push(`${statementType} changes the schema or drops data`);
  if (database === 'prod_db' && statementType !== 'SELECT' && statementType !== 'UNKNOWN')
    warnings.push('write statement against production');
  if (unknownTables.length > 0) warnings.push(`unknown tables in ${database}: ${unknownTables.join(', ')}`);
  if (!hasWhere && rowsScanned > 1_000_000 && statementType === 'SELECT')
    warnings.push('full scan of a large table');
  return {
    database,
    statementType,
    tables,
    plan: hasWhere
      ? joins > 0
        ? 'Hash Join over Index Scans'
        : 'Index Scan'
      : joins > 0
        ? 'Hash Join over Seq Scans'
        : 'Seq Scan',
    estimatedRows,
    estimatedCost: cost,
    warnings,
  };
}

const analysisShape = {
  database: z.string(),
  statementType: z.string(),
  tables: z.array(z.string()),
  plan: z.string(),
  estimatedRows: z.number(),
  estimatedCost: z.number(),
  warnings: z.array(z.string()),
};

function schemaText(database) {
  const db = DATABASES[database];
  const lines = [`-- ${database}: ${db.description}`];
  for (const [table, info] of Object.entries(db.tables)) {
    lines.push(
      `CREATE TABLE ${table} (${info.columns.join(', ')}); -- ~${info.rows.toLocaleString('en-US')} rows`,
    );
  }
  return lines.join('\n');
}

export function createServer() {
  const server = createMcpServer(
    { name: 'database', version: '1.0.0' },
    { capabilities: { logging: {} }, instructions: 'Demo SQL analysis server. Nothing is ever executed.' },
  );

  server.registerTool(
    'analyze_sql',
    {
      title: 'Analyze SQL',
      description:
        'Analyze a SQL statement against a database: statement type, tables touched, estimated cost.',
      inputSchema: { database: databaseArg, sql: z.string().min(1).describe('The SQL statement to analyze') },
      outputSchema: analysisShape,
      annotations: { readOnlyHint: true, idempotentHint: true },
    },
    async ({ database, sql }, extra) => {
      if (!(database in DATABASES)) return unknownDatabase(database);
      await logMessage(
        server,
        extra,
        'info',
        `analyzing ${sql.length} characters of SQL on ${database}`,
        'database',
      );
      const steps = ['parsing', 'planning', 'costing'];
      for (const [i, step] of steps.entries()) {
        await reportProgress(extra, i + 1, steps.length, step);
        await sleep(5, extra.signal);
      }
      return jsonResult(analyze(database, sql));
    },
  );

  server.registerTool(
    'compare_plans',
    {
      title: 'Compare plans',
      description: 'Compare the estimated plans and costs of two SQL statements on one database.',
      inputSchema: { database: databaseArg, sql_a: z.string().min(1), sql_b: z.string().min(1) },
      annotations: { readOnlyHint: true, idempotentHint: true },
    },
    async ({ database, sql_a, sql_b }) => {
      if (!(database in DATABASES)) return unknownDatabase(database);
      const a = analyze(database, sql_a);
      const b = analyze(database, sql_b);
      const cheaper =
        a.estimatedCost === b.estimatedCost ? 'equal' : a.estimatedCost < b.estimatedCost ? 'a' : 'b';
      const ratio =
        Math.round(
          (Math.max(a.estimatedCost, b.estimatedCost) /
            Math.max(0.01, Math.min(a.estimatedCost, b.estimatedCost))) *
            100,
        ) / 100;
      return jsonResult({ database, a, b, cheaper, costRatio: ratio });
    },
  );

  server.registerTool(
    'check_access',
    {
      title: 'Check access',
      description: "Report a user's privileges on a database.",
      inputSchema: { database: databaseArg, user: z.string().min(1).describe('User e-mail') },
      annotations: { readOnlyHint: true, idempotentHint: true },
    },
    async ({ database, user }) => {
      if (!(database in DATABASES)) return unknownDatabase(database);
      const privileges = ACCESS[user.toLowerCase()]?.[database] ?? [];
      return jsonResult({
        database,
        user,
        privileges,
        canRead: privileges.includes('read'),
        canWrite: privileges.includes('write'),
      });
    },
  );

  server.registerPrompt(
    'daily_sales_report',
    {
      title: 'Daily sales report',
      description: 'Ask for the daily sales report for a date and region.',
      argsSchema: {
        date: z.string().optional().describe('Report date, YYYY-MM-DD (default: yesterday)'),
        region: z.string().optional().describe('Sales region (default: all regions)'),
      },
    },
    ({ date, region }) => {
      const when = date ?? 'yesterday';
      const where = region ? `the ${region} region` : 'all regions';
      return {
        description: `Daily sales report for ${when}, ${where}`,
        messages: [
          {
            role: 'user',
            content: {
              type: 'text',
              text:
                `Prepare the daily sales report for ${when} covering ${where}. ` +
                'Use the orders, order_items and products tables in prod_db (read-only). Report total revenue, ' +
                'number of orders, average order value, the top 5 products by revenue, and the change versus the ' +
                'same weekday last week. Flag anything unusual.',
            },
          },
        ],
      };
    },
  );

  for (const database of ['dev_db', 'prod_db']) {
    server.registerResource(
      `${database}_schema`,
      `db://${database}/schema`,
      {
        title: `${database} schema`,
        description: `Table definitions of ${database}`,
        mimeType: 'text/plain',
      },
      async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: schemaText(database) }] }),
    );
  }

  server.registerResource(
    'table',
    new ResourceTemplate('db://{database}/tables/{table}', {
      list: async () => ({
        resources: DATABASE_NAMES.flatMap((database) =>
          Object.keys(DATABASES[database].tables).map((table) => ({
            uri: `db://${database}/tables/${table}`,
            name: `${database}.${table}`,
            mimeType: 'application/json',
          })),
        ),
      }),
      complete: {
        database: (value) => DATABASE_NAMES.filter((d) => d.startsWith(value)),
        table: (value, context) => {
          const db = DATABASES[context?.arguments?.database];
          const names = db
            ? Object.keys(db.tables)
            : [...new Set(DATABASE_NAMES.flatMap((d) => Object.keys(DATABASES[d].tables)))];
          return names.filter((t) => t.startsWith(value));
        },
      },
    }),
    { title: 'Table', description: 'Columns and size of one table', mimeType: 'application/json' },
    async (uri, { database, table }) => {
      const info = DATABASES[database]?.tables[table];
      // -32002 is the spec's "resource not found"; a plain Error with `code` keeps the message unprefixed on the wire.
      if (!info)
        throw Object.assign(new Error(`Resource not found: ${uri.href}`), {
          code: -32002,
          data: { uri: uri.href },
        });
      const text = JSON.stringify({ database, table, columns: info.columns, estimatedRows: info.rows });
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text }] };
    },
  );

  return server;
}

if (isMain(import.meta.url)) await run(createServer);
