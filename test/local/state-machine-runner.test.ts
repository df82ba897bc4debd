// The local definition: the Tasks standing in for a Wait with SecondsPath and for a Distributed Map keep Step
// Functions' semantics, where a Wait or a Map has no timeout (aws-local-stepfunctions gives a Task 60 s).
import { describe, expect, it } from 'vitest';
import { localDefinition, startExecution } from '../../local/state-machine-runner';

type Definition = Parameters<typeof localDefinition>[0];

describe('localDefinition', () => {
  const definition = {
    StartAt: 'Hold',
    States: {
      Hold: { Type: 'Wait', SecondsPath: '$.seconds', Next: 'Score' },
      Score: {
        Type: 'Map',
        ItemReader: {
          Resource: 'arn:aws:states:::s3:getObject',
          ReaderConfig: { InputType: 'CSV', CSVHeaderLocation: 'FIRST_ROW' },
          Parameters: { Bucket: 'b', 'Key.$': '$.key' },
        },
        ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'EXPRESS' }, StartAt: 'Done', States: { Done: { Type: 'Pass', End: true } } },
        End: true,
      },
    },
  } as unknown as Definition;

  it('gives the Tasks that stand in for a Wait from the input and a Distributed Map no 60-second limit', () => {
    const states = localDefinition(definition).States as unknown as Record<string, { Type: string; TimeoutSeconds?: number }>;
    expect(states.Hold).toMatchObject({ Type: 'Task', TimeoutSeconds: 24 * 24 * 3600 });
    expect(states.Score).toMatchObject({ Type: 'Task', TimeoutSeconds: 24 * 24 * 3600 });
  });

  it('still waits the seconds the input names, scaled', async () => {
    const waits = { StartAt: 'Hold', States: { Hold: { Type: 'Wait', SecondsPath: '$.seconds', End: true } } } as unknown as Definition;
    const began = performance.now();
    const outcome = await startExecution(waits, { seconds: 120 }, { lambda: async () => null } as never, { timeScale: 1000 }).done;
    expect(outcome.status, JSON.stringify(outcome)).toBe('SUCCEEDED');
    expect(performance.now() - began).toBeGreaterThanOrEqual(100);
  });
});
