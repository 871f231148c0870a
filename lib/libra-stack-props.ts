import type { StackProps } from 'aws-cdk-lib';
import type { LibraProps } from './libra-props.ts';

export interface LibraStackProps extends StackProps, LibraProps {}
