// The Grafana dashboards in dashboards/, read as the parts of Grafana's dashboard JSON model the tests look at.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const DASHBOARDS_DIR = join(import.meta.dirname, '..', '..', 'dashboards');

export interface DatasourceRef {
  readonly type: string;
  readonly uid: string;
}

export interface Target extends Record<string, unknown> {
  readonly refId: string;
  readonly datasource?: DatasourceRef;
}

export interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly datasource?: DatasourceRef;
  readonly targets?: readonly Target[];
  readonly options?: { readonly content?: string };
}

export interface Dashboard {
  readonly __inputs: readonly { name: string; type: string; pluginId: string }[];
  readonly schemaVersion: number;
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly (Record<string, unknown> & { name: string; type: string; datasource?: DatasourceRef; query?: unknown })[] };
}

export const readDashboard = (file: string) => JSON.parse(readFileSync(join(DASHBOARDS_DIR, file), 'utf8')) as Dashboard;

/** The dashboard's sections: each starts at a text panel (its heading) and runs to the next. */
export function sections(dashboard: Dashboard): Panel[][] {
  const result: Panel[][] = [];
  for (const panel of dashboard.panels) {
    if (panel.type === 'text' || result.length === 0) result.push([]);
    result.at(-1)?.push(panel);
  }
  return result;
}
