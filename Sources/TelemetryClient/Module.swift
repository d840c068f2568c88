enum ClientModule {}
