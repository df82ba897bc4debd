// How the CLI's tables name the quality metrics (`modelgate quality`, `modelgate batch labels`), in the order they list them.
import type { QualityMetricName } from '../lambdas/core/monitoring/quality';

export const QUALITY_METRIC_LABELS: Readonly<Record<QualityMetricName, string>> = {
  accuracy: 'accuracy',
  precision: 'precision',
  recall: 'recall',
  f1: 'F1',
  rocAuc: 'ROC AUC',
  logLoss: 'log loss',
  calibrationError: 'calibration error',
  mae: 'MAE',
  rmse: 'RMSE',
  r2: 'R2',
};
