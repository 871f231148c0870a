import { CfnOutput, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Libra } from './libra.ts';
import type { LibraStackProps } from './libra-stack-props.ts';

/** The deployable unit: Libra and the outputs a caller needs to reach it. */
export class LibraStack extends Stack {
  readonly libra: Libra;

  constructor(scope: Construct, id: string, props: LibraStackProps = {}) {
    // One props object serves both: the Stack reads its own keys, Libra its own, so a new
    // Libra prop cannot be dropped by a forwarding list that forgot it.
    super(scope, id, { description: 'Libra Serverless: Spark jobs on AWS behind an HTTPS API', ...props });
    this.libra = new Libra(this, 'Libra', props);
    new CfnOutput(this, 'ApiUrl', {
      description: 'Base URL of the job API; routes live under api/v1/spark',
      value: this.libra.jobApi.url,
    });
    if (this.libra.console) {
      new CfnOutput(this, 'ConsoleUrl', {
        description: 'The jobs console (sign in with a token from the JWT issuer)',
        value: this.libra.console.url,
      });
    }
    new CfnOutput(this, 'TableName', {
      description: 'The job table',
      value: this.libra.jobStore.table.tableName,
    });
    new CfnOutput(this, 'StateMachineArn', {
      description: 'The job workflow; each execution is named after its job',
      value: this.libra.workflow.stateMachine.stateMachineArn,
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      description: 'Alarms publish here; subscribe to it, or set libra.alarmEmail',
      value: this.libra.observability.topic.topicArn,
    });
    new CfnOutput(this, 'ArtifactsBucketName', {
      description: 'Runner scripts, inline job code (jobs/) and Spark logs (logs/)',
      value: this.libra.artifacts.bucket.bucketName,
    });
  }
}
