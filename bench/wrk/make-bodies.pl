#!/usr/bin/perl
# Writes the two request bodies the load scripts post, from one real Fashion-MNIST test image
# (the pixels of examples/fmnist-request.json, an ankle boot), as a plain Triton client sends
# them: an id and the input, no routing hints, so the target's default deadline applies.
#   OUT_DIR/infer.json        the JSON request
#   OUT_DIR/infer.bin         the same request in Triton's binary tensor extension: a JSON header
#                             (the input described by binary_data_size, the output asked for as
#                             binary) followed by the 784 FP32 values, little-endian
#   OUT_DIR/infer.bin.hlen    the JSON header's length (the Inference-Header-Content-Length)
# Perl rather than Python because perl-base is part of every Debian system.
#
#   bench/wrk/make-bodies.pl examples/fmnist-request.json OUT_DIR
use strict;
use warnings;

my ($src, $out) = @ARGV;
die "usage: $0 REQUEST.json OUT_DIR\n" unless defined $out;
open(my $in, '<', $src) or die "$src: $!\n";
my $text = do { local $/; <$in> };
close $in;

my ($data) = $text =~ /"data"\s*:\s*\[([^\]]*)\]/ or die "$src: no data array\n";
my @values = split /\s*,\s*/, $data;
s/^\s+|\s+$//g for @values;
die "$src: expected 784 values, found " . scalar(@values) . "\n" unless @values == 784;
my $raw = pack('f<*', @values);

my $input = '{"name":"input","shape":[1,784],"datatype":"FP32"';
my $json = qq({"id":"bench-1","inputs":[$input,"data":[) . join(',', @values) . ']}]}';
my $header = qq({"id":"bench-1","inputs":[$input,"parameters":{"binary_data_size":)
  . length($raw) . '}}],"outputs":[{"name":"probabilities","parameters":{"binary_data":true}}]}';

sub write_file {
  my ($path, $bytes) = @_;
  open(my $fh, '>:raw', $path) or die "$path: $!\n";
  print $fh $bytes;
  close $fh or die "$path: $!\n";
}
write_file("$out/infer.json", $json);
write_file("$out/infer.bin", $header . $raw);
write_file("$out/infer.bin.hlen", length($header) . "\n");
