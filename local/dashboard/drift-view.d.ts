// Types of drift-view.js (plain JavaScript, as the browser loads it) for the TypeScript that renders with it.
import type { DriftStatus } from '../../lambdas/core/drift/report';
import type { FeatureView } from '../../lambdas/core/drift/feature-view';

export interface ViewNode {
  readonly tag: string;
  readonly attrs: Readonly<Record<string, string | number>>;
  readonly children: readonly (ViewNode | string | number)[];
}

type Child = ViewNode | string | number | null | undefined | false | readonly Child[];

export const STATUS_TEXT: Readonly<Record<DriftStatus, string>>;
export function h(tag: string, attrs?: Readonly<Record<string, string | number>>, ...children: Child[]): ViewNode;
export function num(x: number | null | undefined, digits?: number): string;
export function percent(x: number | null | undefined): string;
export function badge(status: DriftStatus, text?: string): ViewNode;
export function distributionChart(view: FeatureView): ViewNode;
export function featureRow(view: FeatureView): ViewNode;
export function featureTable(views: readonly FeatureView[], distributionHeader?: string): ViewNode;
export function toMarkup(node: ViewNode | string | number): string;
