import Foundation
import PGFollowTestSupport
import Testing

/// examples/hooks against moto's EC2 and Route53 stand-in on 127.0.0.1, with the real aws CLI,
/// driven by pgfollow through a failover of the real test cluster.
@Suite(.serialized, Needs.moto) struct AWSHookExampleTests {
  @Test func elasticIPRecordAndRouteFollowTheLeader() throws {
    let fixture = try Fixture()
    let moto = try MotoServer(directory: fixture.directory)
    defer { moto.stop() }
    let first = try moto.aws(
      "ec2", "run-instances", "--image-id", "ami-12c6146b", "--query", "Instances[0].InstanceId")
    let second = try moto.aws(
      "ec2", "run-instances", "--image-id", "ami-12c6146b", "--query", "Instances[0].InstanceId")
    let allocation = try moto.aws(
      "ec2", "allocate-address", "--domain", "vpc", "--query", "AllocationId")
    try moto.aws("ec2", "associate-address", "--allocation-id", allocation, "--instance-id", first)
    let zone = try moto.aws(
      "route53", "create-hosted-zone", "--name", "example.internal", "--caller-reference",
      "pgfollow",
      "--query", "HostedZone.Id")
    let vpc = try moto.aws("ec2", "describe-vpcs", "--query", "Vpcs[0].VpcId")
    let table = try moto.aws(
      "ec2", "create-route-table", "--vpc-id", vpc, "--query", "RouteTable.RouteTableId")
    try moto.aws(
      "ec2", "create-route", "--route-table-id", table, "--destination-cidr-block",
      "10.0.255.10/32",
      "--instance-id", first)

    let examples = Fixture.packageRoot.path + "/examples/hooks/"
    let env =
      "[/usr/bin/env, \"PATH=\(TestVenv.bin):/usr/bin:/bin\", AWS_ACCESS_KEY_ID=test, "
      + "AWS_SECRET_ACCESS_KEY=test, AWS_DEFAULT_REGION=us-east-1"
    let endpoint = "--endpoint-url, \(moto.url)"
    try fixture.editConfig(
      "state_directory:",
      """
      hooks:
        - command: \(env), \(examples)move-elastic-ip, \(endpoint), --allocation-id, \(allocation), --instance, node1=\(first), --instance, node2=\(second)]
        - command: \(env), \(examples)upsert-route53-record, \(endpoint), --zone-id, \(zone), --name, db.example.internal., --ttl, "10", --address, node1=10.0.0.10, --address, node2=10.0.0.11]
        - command: \(env), \(examples)replace-vpc-route, \(endpoint), --route-table-id, \(table), --destination, 10.0.255.10/32, --instance, node1=\(first), --instance, node2=\(second)]
      state_directory:
      """)

    let initial = try fixture.pgfollow("once")
    #expect(initial.status == 2, "\(initial.output)")
    #expect(initial.output.contains("succeeded"), "\(initial.output)")
    #expect(
      try moto.aws("ec2", "describe-addresses", "--query", "Addresses[0].InstanceId") == first)
    #expect(try moto.record(zone: zone) == "10.0.0.10")

    try fixture.clusterCommand("kill", "node1")
    try fixture.clusterCommand("promote", "node2")
    let failover = try fixture.pgfollow("once")
    #expect(failover.status == 2, "\(failover.output)")
    #expect(!failover.output.contains("will retry"), "\(failover.output)")
    #expect(
      try moto.aws("ec2", "describe-addresses", "--query", "Addresses[0].InstanceId") == second)
    #expect(try moto.record(zone: zone) == "10.0.0.11")
    let route = try moto.aws(
      "ec2", "describe-route-tables", "--route-table-ids", table,
      "--query", "RouteTables[0].Routes[?DestinationCidrBlock=='10.0.255.10/32'].InstanceId | [0]")
    #expect(route == second)
  }
}
