import { ExecutionAbortedError, StateMachine } from 'aws-local-stepfunctions';

/**
 * Step Functions for the local runtime: the job workflow's ASL, run by aws-local-stepfunctions,
 * with every Task state's resource ARN bound to a local implementation. Executions are named
 * (a second start of a running or finished name is refused, as Step Functions refuses it),
 * can be stopped, and report how they ended so the finalizer can do what EventBridge
 * triggers in AWS.
 */

export type TaskBinding = (input: unknown) => Promise<unknown>;

type RunOptions = NonNullable<Parameters<StateMachine['run']>[1]>;
type LocalHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;

/** Local implementations by Task resource ARN, e.g. `arn:aws:states:::dynamodb:updateItem`. */
export type ResourceBindings = Readonly<Record<string, TaskBinding>>;

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

export interface LocalExecution {
  readonly name: string;
  readonly input: unknown;
  readonly startedAt: Date;
  status: ExecutionStatus;
  /** States entered plus retries: what Step Functions bills as state transitions. */
  transitions: number;
  readonly statesEntered: string[];
  error?: { name: string; message: string };
  output?: unknown;
  readonly done: Promise<LocalExecution>;
}

export interface ExecutionEnd {
  readonly execution: LocalExecution;
}

interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Parameters?: Record<string, unknown>;
  readonly TimeoutSecondsPath?: string;
}

interface AslDefinition {
  readonly States: Record<string, AslState>;
}

export interface LocalWorkflowOptions {
  /** The definition with its placeholders filled. */
  readonly definition: string;
  readonly bindings: ResourceBindings;
  /** Called once per execution that ends other than by succeeding, like the EventBridge rule in AWS. */
  readonly onEnded?: (end: ExecutionEnd) => void | Promise<void>;
}

/**
 * aws-local-stepfunctions reads a Task's TimeoutSecondsPath from the input after Parameters,
 * where Step Functions reads it from the state input. Carrying the value through Parameters
 * under the same path makes both read the same number; the bindings drop the extra field
 * before calling the local service.
 */
export const LOCAL_TIMEOUT_FIELD = '__libraTimeoutSeconds';

export function adaptForLocalInterpreter(definition: AslDefinition): AslDefinition {
  const states: Record<string, AslState> = {};
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type === 'Task' && state.TimeoutSecondsPath && state.Parameters) {
      states[name] = {
        ...state,
        Parameters: { ...state.Parameters, [`${LOCAL_TIMEOUT_FIELD}.$`]: state.TimeoutSecondsPath },
        TimeoutSecondsPath: `$.${LOCAL_TIMEOUT_FIELD}`,
      };
    } else {
      states[name] = state;
    }
  }
  return { ...definition, States: states };
}

/** A task of a stopped execution: neither retried nor caught, so the interpreter just ends. */
class ExecutionStopped extends Error {
  readonly isRetryable = false;
  readonly isCatchable = false;

  constructor(execution: string) {
    super(`execution ${execution} was stopped`);
    this.name = 'Libra.ExecutionStopped';
  }
}

export class LocalWorkflow {
  readonly #machine: StateMachine;
  readonly #overrides: Record<string, TaskBinding>;
  readonly #onEnded: LocalWorkflowOptions['onEnded'];
  readonly #executions = new Map<string, LocalExecution>();
  readonly #aborts = new Map<string, () => void>();

  constructor(options: LocalWorkflowOptions) {
    const definition = adaptForLocalInterpreter(JSON.parse(options.definition) as AslDefinition);
    this.#overrides = {};
    for (const [name, state] of Object.entries(definition.States)) {
      if (state.Type !== 'Task') continue;
      const binding = state.Resource ? options.bindings[state.Resource] : undefined;
      if (!binding) throw new Error(`state ${name}: no local binding for resource ${state.Resource}`);
      this.#overrides[name] = async (input: unknown) => {
        const { [LOCAL_TIMEOUT_FIELD]: _timeout, ...rest } = (input ?? {}) as Record<string, unknown>;
        return binding(rest);
      };
    }
    this.#machine = new StateMachine(definition as ConstructorParameters<typeof StateMachine>[0], {
      validationOptions: { checkArn: false },
    });
    this.#onEnded = options.onEnded;
  }

  get(name: string): LocalExecution | undefined {
    return this.#executions.get(name);
  }

  /** Starts an execution named `name`; 'already-exists' when that name was used, whatever its input. */
  start(name: string, input: unknown): 'started' | 'already-exists' {
    if (this.#executions.has(name)) return 'already-exists';
    // Once an execution is stopped Step Functions schedules none of its tasks, but the
    // interpreter, whose abort cuts a Retry's wait short, runs the retried task at once: a
    // Spark run or a webhook would start after the cancel. Each execution's tasks refuse then.
    let stopped = false;
    const handlers: Record<string, TaskBinding> = {};
    for (const [state, handler] of Object.entries(this.#overrides)) {
      handlers[state] = async (taskInput) => {
        if (stopped) throw new ExecutionStopped(name);
        return handler(taskInput);
      };
    }
    const run = this.#machine.run(input as Parameters<StateMachine['run']>[0], {
      overrides: { taskResourceLocalHandlers: handlers as LocalHandlers },
      // The interpreter's context has no State; Step Functions gives each state its entry time.
      context: {
        Execution: { Name: name },
        State: {
          get EnteredTime() {
            return new Date().toISOString();
          },
        },
      },
    });
    const execution: LocalExecution = {
      name,
      input,
      startedAt: new Date(),
      status: 'RUNNING',
      transitions: 0,
      statesEntered: [],
      done: undefined as unknown as Promise<LocalExecution>,
    };
    const counting = (async () => {
      for await (const event of run.eventLogs) {
        if (event.type === 'StateEntered') {
          execution.transitions++;
          execution.statesEntered.push(event.state.name);
        } else if (event.type === 'StateRetried') {
          execution.transitions++;
        }
      }
    })();
    const done = run.result.then(
      (output: unknown) => {
        execution.status = 'SUCCEEDED';
        execution.output = output;
      },
      (error: unknown) => {
        if (error instanceof ExecutionAbortedError) {
          execution.status = 'ABORTED';
        } else {
          execution.status = 'FAILED';
          const cause = (error as { cause?: unknown }).cause ?? error;
          execution.error = { name: (cause as Error).name, message: (cause as Error).message };
        }
      },
    );
    (execution as { done: Promise<LocalExecution> }).done = done.then(async () => {
      this.#aborts.delete(name);
      await counting.catch(() => undefined);
      if (execution.status !== 'SUCCEEDED') await this.#onEnded?.({ execution });
      return execution;
    });
    this.#executions.set(name, execution);
    this.#aborts.set(name, () => {
      stopped = true;
      run.abort();
    });
    return 'started';
  }

  /** Stops a running execution; false when none of that name runs. */
  stop(name: string): boolean {
    const abort = this.#aborts.get(name);
    if (!abort) return false;
    abort();
    return true;
  }

  /** Resolves when every execution started so far has ended. */
  async settled(): Promise<void> {
    await Promise.all([...this.#executions.values()].map((execution) => execution.done));
  }

  running(): string[] {
    return [...this.#aborts.keys()];
  }
}
