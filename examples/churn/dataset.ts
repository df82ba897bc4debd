import type { FeatureSpec } from '../../lambdas/core/manifest-types';
import { loadLabelledCsv, type LabelledData } from '../training/dataset';

export const TARGET = 'Churn';
export const CLASS_LABELS = ['No', 'Yes'] as const;
export const POSITIVE_CLASS = 'Yes';
const ID_COLUMN = 'customerID';

/** Numeric features, in the order of the numeric block of the encoded feature vector. */
const NUMERIC_FEATURES: readonly FeatureSpec[] = [
  { name: 'tenure', type: 'integer', description: 'Months the customer has stayed' },
  { name: 'MonthlyCharges', type: 'number', description: 'Amount charged per month' },
  // Blank for customers not billed yet (tenure 0): optional, sent to the model as NaN and imputed there.
  { name: 'TotalCharges', type: 'number', description: 'Amount charged in total', required: false },
];

/** SeniorCitizen is 0/1 in the data: an integer feature, one-hot encoded like the string features. */
const SENIOR_CITIZEN: FeatureSpec = { name: 'SeniorCitizen', type: 'integer', categories: [0, 1] };

/**
 * The Telco data. String categories are the sorted values found in the whole file: the closed set of values
 * the data can take (its schema), not something learned from a split. `positive` is Churn = Yes.
 */
export function loadChurnData(path: string): LabelledData {
  const specs = new Map([...NUMERIC_FEATURES, SENIOR_CITIZEN].map((feature) => [feature.name, feature]));
  return loadLabelledCsv(path, { target: TARGET, classes: CLASS_LABELS, exclude: [ID_COLUMN], feature: (name) => specs.get(name) });
}
